"""The dispatcher's claims: a dead worker's jobs are taken over within the short lease, a living worker keeps
its own, a stopping one gives them back at once, and a job that never gets an outcome is parked."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from parley.channels.base import Outgoing, Sent
from parley.services.delivery import Deliveries, Outcome
from parley.store import queue
from parley.store.db import Database
from parley.store.tables import jobs
from parley.store.tables import messages as messages_table
from parley.workers.dispatcher import Dispatcher
from tests.conftest import Clock
from tests.support.outbound import add_outbound

OLD_LEASE = timedelta(seconds=60)  # what a dead worker's jobs used to wait


class Channel:
    """A channel that answers with ``behaviour``: "ok", "hang" (never answers) or "raise" (a bug)."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.sent: list[str] = []
        self.hanging: list[asyncio.Task[Any]] = []

    async def send(self, msg: Outgoing) -> Sent:
        self.sent.append(msg.id)
        if self.behaviour == "hang":
            task = asyncio.current_task()
            assert task is not None
            self.hanging.append(task)
            await asyncio.Event().wait()
        if self.behaviour == "raise":
            raise RuntimeError("boom")
        return Sent(carrier_ids=(f"c-{msg.id}-{len(self.sent)}",))

    def kill(self) -> None:
        """What kill -9 does to the sends in flight: they end, and nothing is recorded or renewed."""
        for task in self.hanging:
            task.cancel()


class OneTransport:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def choose(self, message_id: str, gsm: str | None, **_: object) -> tuple[str, Channel]:
        return "carrier", self.channel

    def options(self, name: str) -> dict[str, Any]:
        return {}


class BrokenOutcomes(Deliveries):
    """Every outcome write fails (as when one bad row failed each batch)."""

    failures = 0

    async def record(self, outcome: Outcome) -> None:
        self.failures += 1
        raise RuntimeError("the outcome write failed")


def dispatcher(db: Database, clock: Clock, channel: Channel, worker: str, **kw: Any) -> Dispatcher:
    deliveries = kw.pop("deliveries", None) or Deliveries(db, clock)
    return Dispatcher(db, OneTransport(channel), deliveries, clock, worker=worker, **kw)  # type: ignore[arg-type]


async def queued(db: Database, clock: Clock, n: int) -> list[str]:
    return await add_outbound(db, [f"m{i:04d}" for i in range(n)], now=clock())


async def wait_for(check: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0) -> None:
    """Until ``check()`` holds, looking again every 10 ms; fails after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not await _value(check()):
            await asyncio.sleep(0.01)


async def _value(result: bool | Awaitable[bool]) -> bool:
    return await result if not isinstance(result, bool) else result


async def statuses(db: Database) -> dict[str, tuple[str, str | None]]:
    async with db.read() as conn:
        rows = (
            await conn.execute(sa.select(messages_table.c.id, messages_table.c.status, messages_table.c.error))
        ).all()
    return {r.id: (r.status, r.error) for r in rows}


async def all_sent(db: Database, n: int) -> bool:
    return [s for s, _ in (await statuses(db)).values()].count("sent") == n


async def test_a_killed_workers_jobs_are_taken_over_without_waiting_the_old_minute(db: Database, clock: Clock) -> None:
    ids = await queued(db, clock, 50)
    doomed_channel = Channel("hang")
    doomed = dispatcher(db, clock, doomed_channel, "doomed")
    assert await doomed.claim_and_send() == 50
    await wait_for(lambda: len(doomed_channel.sent) == 50)
    doomed_channel.kill()
    heir_channel = Channel("ok")
    heir = dispatcher(db, clock, heir_channel, "heir")
    clock.advance(seconds=10)
    assert await heir.claim_and_send() == 0  # still leased to the dead worker
    clock.advance(seconds=6)  # 16 s after the claim: well inside the old 60 s lease
    assert timedelta(seconds=16) < OLD_LEASE
    assert await heir.claim_and_send() == 50
    await wait_for(lambda: all_sent(db, 50))
    assert sorted(heir_channel.sent) == ids


async def test_a_living_worker_keeps_its_jobs_by_renewing_their_leases(db: Database, clock: Clock) -> None:
    await queued(db, clock, 20)
    channel = Channel("hang")
    alive = dispatcher(db, clock, channel, "alive")
    await alive.claim_and_send()
    await wait_for(lambda: len(channel.sent) == 20)
    other = dispatcher(db, clock, Channel("ok"), "other")
    for _ in range(6):  # a minute and a half, renewed every 14 s
        clock.advance(seconds=14)
        await alive.renew_leases()
        assert await other.claim_and_send() == 0
    channel.kill()


async def test_a_worker_that_renewed_too_late_does_not_send_its_own_jobs_a_second_time(
    db: Database, clock: Clock
) -> None:
    """On a starved event loop a renewal can come after the lease ran out: the worker's next claim takes its own
    jobs again. They are being sent already; a second send would text each customer twice (seen under load in
    tests/e2e/test_campaigns.py's kill -9 test: eleven customers texted twice)."""
    ids = await queued(db, clock, 20)
    channel = Channel("hang")
    late = dispatcher(db, clock, channel, "late")
    assert await late.claim_and_send() == 20
    await wait_for(lambda: len(channel.sent) == 20)
    clock.advance(seconds=16)  # past the 15 s lease, no renewal in between
    assert await late.claim_and_send() == 0  # its own, in flight: not sent again, not counted as taken
    assert sorted(channel.sent) == ids
    assert {status for status, _ in (await statuses(db)).values()} == {"sending"}
    async with db.read() as conn:
        counts = set((await conn.execute(sa.select(jobs.c.attempts, jobs.c.faults))).all())
    assert counts == {(1, 0)}  # still its first try, and no fault: it is in flight
    other = dispatcher(db, clock, Channel("ok"), "other")
    clock.advance(seconds=10)
    assert await other.claim_and_send() == 0  # the claim renewed them: still the late worker's
    channel.kill()


async def test_a_stopping_worker_gives_its_jobs_back_at_once_without_a_fault(db: Database, clock: Clock) -> None:
    await queued(db, clock, 30)
    channel = Channel("hang")
    stopping = dispatcher(db, clock, channel, "stopping")
    run = asyncio.create_task(stopping.run())
    await wait_for(lambda: len(channel.sent) == 30)
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    async with db.write() as conn:  # no clock advance: claimable now
        claimed = await queue.claim(conn, now=clock(), lease=timedelta(seconds=15), limit=100, worker="next")
    assert len(claimed) == 30
    assert {c.faults for c in claimed} == {0}


async def test_a_job_whose_outcome_write_keeps_failing_is_parked_after_three_tries(db: Database, clock: Clock) -> None:
    [mid] = await queued(db, clock, 1)
    channel = Channel("ok")
    broken = BrokenOutcomes(db, clock)
    worker = dispatcher(db, clock, channel, "w", deliveries=broken)
    for attempt in range(1, 4):
        assert await worker.claim_and_send() == 1
        await wait_for(lambda n=attempt: broken.failures == n)  # type: ignore[misc]
        clock.advance(seconds=16)  # no outcome: the lease runs out
    assert await worker.claim_and_send() == 1  # claimed, and parked instead of sent
    status, error = (await statuses(db))[mid]
    assert status == "failed"
    assert error is not None and error.startswith("parked after 3 tries")
    assert len(channel.sent) == 3
    async with db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(jobs)) == 0


async def test_a_channel_that_keeps_raising_something_unexpected_is_parked_with_its_error(
    db: Database, clock: Clock
) -> None:
    [mid] = await queued(db, clock, 1)
    channel = Channel("raise")
    worker = dispatcher(db, clock, channel, "w")
    for _ in range(3):
        assert await worker.claim_and_send() == 1
        await wait_for(lambda: _queued_again(db, mid))
        clock.advance(minutes=10)  # past the retry's backoff
    assert await worker.claim_and_send() == 1
    status, error = (await statuses(db))[mid]
    assert status == "failed"
    assert error is not None and "parked" in error and "internal error: boom" in error
    assert len(channel.sent) == 3


async def _queued_again(db: Database, mid: str) -> bool:
    async with db.read() as conn:
        row = (await conn.execute(sa.select(jobs.c.lease_until).where(jobs.c.message_id == mid))).one()
    return row.lease_until is None
