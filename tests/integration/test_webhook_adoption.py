"""New webhook deliveries are taken by the sender of the process that writes them, with no claim (issue 15), on
SQLite and PostgreSQL with real HTTP receivers: what the running sender leased is sent and recorded without a claim;
a subject whose delivery had to wait for a claim is not overtaken by its later events; what was leased stays in the
database under its lease, for another process to claim once it runs out (a process killed before sending)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from parley.bootstrap import Parley
from parley.services import webhook_sender as sender_module
from parley.services.webhook_sender import WebhookSender
from parley.store.db import Database
from parley.store.tables import webhook_deliveries
from tests.conftest import Clock
from tests.support.http_sink import RecordedRequest
from tests.support.server import wait_until
from tests.support.webhook_app import app_for_webhooks, count_claims, new_endpoint, send_many, set_status
from tests.support.webhook_receiver import HttpSink, envelope, signed_by

LEASE = timedelta(seconds=30)  # the sender's


@pytest.fixture
async def parley(db: Database, db_url: str, clock: Clock) -> AsyncIterator[Parley]:
    async with app_for_webhooks(db, db_url, clock) as app:
        yield app


@pytest.fixture
def claimed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many deliveries each claim brought."""
    return count_claims(monkeypatch)


@contextlib.asynccontextmanager
async def running(sender: WebhookSender) -> AsyncIterator[None]:
    task = asyncio.create_task(sender.run())
    await asyncio.sleep(0)  # `run` has started: from now on new deliveries are leased to it
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _rows(parley: Parley) -> list[Any]:
    async with parley.db.read() as conn:
        query = sa.select(*webhook_deliveries.c).order_by(webhook_deliveries.c.id)
        return list((await conn.execute(query)).all())


async def _all_recorded(parley: Parley, count: int) -> bool:
    rows = await _rows(parley)
    return len(rows) == count and all(r.state == "delivered" for r in rows)


def _statuses(requests: list[RecordedRequest]) -> dict[str, list[str]]:
    arrived: dict[str, list[str]] = {}
    for request in requests:
        data = envelope(request)["data"]
        arrived.setdefault(data["id"], []).append(data["status"])
    return arrived


async def test_deliveries_written_while_the_sender_runs_are_sent_without_a_claim(
    parley: Parley, clock: Clock, claimed: list[int]
) -> None:
    async with HttpSink() as sink:
        endpoint = await new_endpoint(parley, sink.url, ["message.status"])
        async with running(parley.webhook_sender):
            ids = await send_many(parley, 12)
            await set_status(parley, clock, ids, "sent")
            await wait_until(lambda: len(sink.requests) == 24, timeout=10)
            await wait_until(lambda: _all_recorded(parley, 24), timeout=10)
    assert _statuses(sink.requests) == {i: ["queued", "sent"] for i in ids}
    assert all(signed_by(r, endpoint["secret"]) for r in sink.requests)
    assert sum(claimed) == 0
    rows = await _rows(parley)
    assert len(rows) == 24
    assert {(r.state, r.attempts, r.lease_until, r.first_status) for r in rows} == {("delivered", 1, None, 200)}
    assert sorted(envelope(r)["id"] for r in sink.requests) == sorted(r.event_id for r in rows)


async def test_a_subject_whose_delivery_waits_for_a_claim_is_not_overtaken_by_its_next_event(
    parley: Parley, clock: Clock, claimed: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender takes at most 2 × 16 of a receiver's deliveries as they are written: of 33 messages, the last's
    ``queued`` waits for a claim. Once the receiver has answered a few (room to take new ones, but still too busy
    for a claim to bring any), that message's ``sent`` must wait for a claim too, behind its ``queued``; another
    message's ``sent`` is taken at once."""
    monkeypatch.setattr(sender_module, "ADOPT_DEPTH", 2)
    gate = asyncio.Semaphore(0)
    opened = False

    async def hold(_: RecordedRequest) -> None:
        if not opened:
            await gate.acquire()

    async with HttpSink(hold=hold) as sink:
        await new_endpoint(parley, sink.url, ["message.status"])
        async with running(parley.webhook_sender):
            ids = await send_many(parley, 33)
            await wait_until(lambda: len(sink.requests) == 16, timeout=10)
            for _ in range(8):  # eight answered: 24 held, fewer than 32, more than a claim's 16
                gate.release()
            await wait_until(lambda: len(sink.requests) == 24, timeout=10)
            await set_status(parley, clock, [ids[0], ids[-1]], "sent")
            opened = True
            for _ in range(16):
                gate.release()
            await wait_until(lambda: len(sink.requests) == 35, timeout=10)
            await wait_until(lambda: _all_recorded(parley, 35), timeout=10)
    arrived = _statuses(sink.requests)
    assert arrived[ids[-1]] == ["queued", "sent"]
    assert arrived[ids[0]] == ["queued", "sent"]
    assert sum(claimed) == 2  # the last message's two: everything else was taken as written
    assert {(r.state, r.lease_until) for r in await _rows(parley)} == {("delivered", None)}


async def test_what_a_process_leased_and_never_sent_is_claimed_once_its_lease_runs_out(
    parley: Parley, clock: Clock
) -> None:
    """As if the writing process were killed after its commit: its deliveries wait in the database under its lease,
    and another process's claim takes them when the lease runs out, not before."""
    gate = asyncio.Event()

    async def hold(_: RecordedRequest) -> None:
        await gate.wait()

    other = WebhookSender(parley.db, clock, parley.webhooks)
    async with HttpSink(hold=hold) as sink:
        await new_endpoint(parley, sink.url, ["message.status"])
        try:
            async with running(parley.webhook_sender):
                ids = await send_many(parley, 3)
                await wait_until(lambda: len(sink.requests) == 3, timeout=10)  # held by the receiver
            rows = await _rows(parley)
            assert {(r.state, r.lease_until) for r in rows} == {("pending", clock() + LEASE)}
            assert await other.run_once() == 0  # leased: not another's to take
            clock.advance(seconds=LEASE.total_seconds() + 1)
            claiming = asyncio.create_task(other.run_once())
            await wait_until(lambda: len(sink.requests) == 6, timeout=10)  # the other's three, held too
            gate.set()
            assert await claiming == 3
            await wait_until(lambda: _all_recorded(parley, 3), timeout=10)
        finally:
            gate.set()
            await other.close()
    assert sorted(envelope(r)["data"]["id"] for r in sink.requests) == sorted(ids * 2)  # receivers de-duplicate
