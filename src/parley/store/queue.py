"""The durable job queue: one row per outbound message waiting to be handed to a channel.

Claim contract (the same on SQLite and PostgreSQL): a claimed job is leased to one worker until
``lease_until``; the living worker renews the leases of what it still holds, one that stops releases
them, and one that dies leaves them to run out: the job is claimed again. A claim that finds a lease run
out counts a fault on the job (its last try ended without an outcome), so a job that keeps doing that can
be parked instead of looping for ever. PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` so that many
workers never wait on each other; SQLite has one writer at a time, so the UPDATE itself is the lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.bulk import insert_rows
from parley.store.one_of import one_of
from parley.store.tables import jobs


@dataclass(frozen=True)
class ClaimedJob:
    message_id: str
    attempts: int
    first_tried_at: datetime
    faults: int = 0  # tries that ended with no outcome recorded, or with an unexpected error


async def enqueue_many(conn: AsyncConnection, due: Sequence[tuple[str, datetime]], *, kind: str = "send") -> None:
    """Add one job per (message id, due time). ``kind``: send (an outbound message) or route (an inbound one)."""
    await insert_rows(conn, jobs, [{"message_id": m, "kind": kind, "due_at": at, "attempts": 0} for m, at in due])


async def claim(
    conn: AsyncConnection, *, now: datetime, lease: timedelta, limit: int, worker: str, kind: str = "send"
) -> list[ClaimedJob]:
    """Lease up to ``limit`` due jobs of one kind, oldest first. Call inside a write transaction."""
    due = (
        sa.select(jobs.c.message_id)
        .where(
            jobs.c.kind == kind,
            jobs.c.due_at <= now,
            sa.or_(jobs.c.lease_until.is_(None), jobs.c.lease_until <= now),
        )
        .limit(limit)
    )
    # Route jobs of one customer must be claimed in arrival order (ids sort by it) when they share a due time;
    # send jobs keep the plain index order. Either way the index (kind, due_at, message_id) holds the whole order,
    # so the claim walks it and stops at ``limit`` instead of sorting every due job (migration 0019).
    due = due.order_by(jobs.c.due_at, jobs.c.message_id) if kind == "route" else due.order_by(jobs.c.due_at)
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statement = (
        jobs.update()
        .where(jobs.c.message_id.in_(due.scalar_subquery()))
        .values(
            lease_until=now + lease,
            worker=worker,
            attempts=jobs.c.attempts + 1,
            first_tried_at=sa.func.coalesce(jobs.c.first_tried_at, now),
            # A lease still set here ran out: the last claim ended without an outcome (a finished job is gone,
            # a retried or released one has no lease).
            faults=sa.case((jobs.c.lease_until.is_(None), jobs.c.faults), else_=jobs.c.faults + 1),
        )
        .returning(jobs.c.message_id, jobs.c.attempts, jobs.c.first_tried_at, jobs.c.faults)
    )
    rows = (await conn.execute(statement)).all()
    return [ClaimedJob(r.message_id, r.attempts, r.first_tried_at, r.faults) for r in rows]


async def finish(conn: AsyncConnection, message_ids: Sequence[str]) -> None:
    if message_ids:
        await conn.execute(jobs.delete().where(one_of(conn, jobs.c.message_id, message_ids)))


async def retry_at(conn: AsyncConnection, retries: Sequence[tuple[str, datetime]]) -> None:
    """Put jobs back with a new due time and no lease."""
    if retries:
        await conn.execute(
            jobs.update()
            .where(jobs.c.message_id == sa.bindparam("mid"))
            .values(due_at=sa.bindparam("due"), lease_until=None, worker=None),
            [{"mid": m, "due": due} for m, due in retries],
        )


async def note_faults(conn: AsyncConnection, message_ids: Sequence[str]) -> None:
    """Count a fault on jobs whose try ended with an unexpected error (a bug, not the peer's answer)."""
    for chunk in _chunks(message_ids):
        await conn.execute(jobs.update().where(one_of(conn, jobs.c.message_id, chunk)).values(faults=jobs.c.faults + 1))


async def depth(conn: AsyncConnection) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(jobs)) or 0)


async def renew(conn: AsyncConnection, message_ids: Sequence[str], *, until: datetime, worker: str) -> None:
    """Extend the leases of jobs this worker still holds (not those another took over meanwhile)."""
    for chunk in _chunks(message_ids):
        await conn.execute(
            jobs.update()
            .where(one_of(conn, jobs.c.message_id, chunk), jobs.c.worker == worker)
            .values(lease_until=until)
        )


async def recount_own(conn: AsyncConnection, message_ids: Sequence[str], *, worker: str) -> None:
    """Jobs a claim took from ``worker`` itself while it was still sending them (its renewal came late): the claim
    only renewed their leases, so it neither counts as a try nor as a fault."""
    for chunk in _chunks(message_ids):
        await conn.execute(
            jobs.update()
            .where(one_of(conn, jobs.c.message_id, chunk), jobs.c.worker == worker)
            .values(attempts=jobs.c.attempts - 1, faults=jobs.c.faults - 1)
        )


async def release(conn: AsyncConnection, message_ids: Sequence[str], *, worker: str) -> None:
    """Give back jobs this worker holds but will not finish (it is stopping): claimable at once, no fault."""
    for chunk in _chunks(message_ids):
        await conn.execute(
            jobs.update()
            .where(one_of(conn, jobs.c.message_id, chunk), jobs.c.worker == worker)
            .values(lease_until=None, worker=None)
        )


def _chunks(values: Sequence[str], size: int = 500) -> list[list[str]]:
    return [list(values[i : i + size]) for i in range(0, len(values), size)]
