"""The durable queue's claim contract, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from parley.store import queue
from parley.store.db import Database
from parley.store.tables import jobs
from tests.conftest import Clock
from tests.support.outbound import add_outbound

LEASE = timedelta(seconds=60)


async def _add(db: Database, clock: Clock, ids: list[str], due_in: float = 0) -> None:
    await add_outbound(db, ids, now=clock(), due=clock() + timedelta(seconds=due_in))


async def _claim(db: Database, clock: Clock, limit: int = 10, worker: str = "w1") -> list[str]:
    async with db.write() as conn:
        claimed = await queue.claim(conn, now=clock(), lease=LEASE, limit=limit, worker=worker)
    return [c.message_id for c in claimed]


async def test_due_jobs_are_claimed_oldest_first_and_postponed_ones_wait(db: Database, clock: Clock) -> None:
    await _add(db, clock, ["a1"], due_in=0)
    await _add(db, clock, ["z9"], due_in=-5)
    await _add(db, clock, ["later"], due_in=3600)
    assert await _claim(db, clock, limit=1) == ["z9"]
    assert await _claim(db, clock) == ["a1"]
    clock.advance(seconds=3601 + 61)
    assert "later" in await _claim(db, clock)


async def test_a_claimed_job_is_not_claimed_again_until_its_lease_runs_out(db: Database, clock: Clock) -> None:
    await _add(db, clock, ["m1"])
    assert await _claim(db, clock) == ["m1"]
    clock.advance(seconds=59)
    assert await _claim(db, clock, worker="w2") == []
    clock.advance(seconds=2)
    async with db.write() as conn:
        again = await queue.claim(conn, now=clock(), lease=LEASE, limit=10, worker="w2")
    assert [(c.message_id, c.attempts) for c in again] == [("m1", 2)]


async def test_finished_jobs_leave_and_retried_jobs_come_back_when_due(db: Database, clock: Clock) -> None:
    await _add(db, clock, ["done", "again"])
    assert sorted(await _claim(db, clock)) == ["again", "done"]
    async with db.write() as conn:
        await queue.finish(conn, ["done"])
        await queue.retry_at(conn, [("again", clock() + timedelta(seconds=30))])
    assert await _claim(db, clock) == []
    clock.advance(seconds=30)
    assert await _claim(db, clock) == ["again"]
    async with db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(jobs)) == 1


async def test_concurrent_claims_never_hand_out_the_same_job_twice(db: Database, clock: Clock) -> None:
    ids = [f"m{i:04d}" for i in range(300)]
    await _add(db, clock, ids)
    results = await asyncio.gather(*(_claim(db, clock, limit=37, worker=f"w{i}") for i in range(12)))
    claimed = [m for r in results for m in r]
    assert len(claimed) == len(set(claimed))
    assert len(claimed) == min(300, 12 * 37)
