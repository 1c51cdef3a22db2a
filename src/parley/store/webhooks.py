"""Outbound webhooks (`tables.webhook_endpoints`, `webhook_deliveries`, `webhook_attempts`).

Deliveries are claimed like jobs (`store.queue`): a claim leases due ones to a worker until ``lease_until``; one whose
worker died is claimed again when its lease runs out (the receiver may see it twice: it de-duplicates by event id).
PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``; on SQLite the UPDATE itself is the lock.

A first attempt that succeeds is kept on its delivery (``first_at``, ``first_status``, ``first_answer``,
``first_duration_ms``: `keep_first_attempts`); every other attempt is a `webhook_attempts` row (`add_attempts`).
`attempts_of` shows both alike. ``attempts`` counts them all.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.bulk import insert_rows, naive_utc
from parley.store.one_of import none_of, one_of, planned_once
from parley.store.tables import (
    Record,
    users,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
Target = tuple[str, str]  # a delivery's receiver: ("endpoint", id) or ("url", a status callback's URL)


@dataclass(frozen=True, slots=True)
class Leased:
    """A delivery its writer leased as it wrote it, with what a claim would have read with it (the sender's view)."""

    id: int
    event_id: str
    event_type: str
    subject: str | None
    endpoint_id: str | None
    url: str | None
    api_key_id: str | None
    format: str
    body: str
    created_at: datetime
    endpoint_url: str | None  # the endpoint's, as the writer's cache of enabled endpoints had it
    secret_sealed: str | None
    enabled: bool | None
    lease_until: datetime  # the lease its writer gave it
    attempts: int = 0


def target(endpoint_id: str | None, url: str | None) -> Target:
    """The receiver of a delivery, from its ``endpoint_id`` and ``url`` columns."""
    return ("endpoint", endpoint_id) if endpoint_id is not None else ("url", url or "")


_ENDPOINT = (*webhook_endpoints.c, users.c.extension.label("owner"), users.c.role.label("owner_role"))


def _endpoints() -> sa.Select[Any]:
    return sa.select(*_ENDPOINT).join(users, users.c.id == webhook_endpoints.c.owner_id)


async def add_endpoint(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(webhook_endpoints.insert().values(**row))


async def find_endpoint(conn: AsyncConnection, endpoint_id: str) -> Record | None:
    return (await conn.execute(_endpoints().where(webhook_endpoints.c.id == endpoint_id))).first()


async def list_endpoints(conn: AsyncConnection, owner_id: int | None = None) -> list[Record]:
    """Endpoints, oldest first: one user's, or everyone's (``owner_id`` None)."""
    query = _endpoints().order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
    if owner_id is not None:
        query = query.where(webhook_endpoints.c.owner_id == owner_id)
    return list((await conn.execute(query)).all())


async def list_enabled(conn: AsyncConnection) -> list[Record]:
    return list((await conn.execute(_endpoints().where(webhook_endpoints.c.enabled.is_(True)))).all())


async def update_endpoint(conn: AsyncConnection, endpoint_id: str, values: dict[str, Any]) -> None:
    await conn.execute(webhook_endpoints.update().where(webhook_endpoints.c.id == endpoint_id).values(**values))


async def delete_endpoint(conn: AsyncConnection, endpoint_id: str) -> None:
    await conn.execute(webhook_endpoints.delete().where(webhook_endpoints.c.id == endpoint_id))


async def stamp(conn: AsyncConnection) -> tuple[int, datetime | None]:
    """A cheap version of the endpoint list: its size and its latest change (a cache compares it)."""
    row = (await conn.execute(sa.select(sa.func.count(), sa.func.max(webhook_endpoints.c.updated_at)))).one()
    return int(row[0]), row[1]


async def add_deliveries(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    await insert_rows(conn, webhook_deliveries, list(rows))


async def add_leased_deliveries(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert deliveries that this process leased as it wrote them (its sender takes them once they are committed,
    with no claim); returns their ids, in the order of ``rows``.

    On PostgreSQL the ids are drawn from the table's sequence first (one statement whatever their number) and the
    rows inserted as `add_deliveries` inserts them: a multi-row INSERT … RETURNING is a new statement text, so a new
    prepared statement, for every number of rows. SQLite has no such cost."""
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        drawn = await conn.scalars(_DRAW_IDS, {"n": len(rows)})
        ids = sorted(int(i) for i in drawn)  # in the order of the rows: a claim takes one subject's in id order
        await insert_rows(conn, webhook_deliveries, [row | {"id": i} for row, i in zip(rows, ids, strict=True)])
        return ids
    query = webhook_deliveries.insert().returning(webhook_deliveries.c.id, sort_by_parameter_order=True)
    return [int(row.id) for row in (await conn.execute(query, list(rows))).all()]


_DRAW_IDS = sa.text("SELECT nextval(pg_get_serial_sequence('webhook_deliveries', 'id')) FROM generate_series(1, :n)")


async def claim(
    conn: AsyncConnection,
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    busy_subjects: Collection[str] = (),
    full_endpoints: Collection[str] = (),
    full_urls: Collection[str] = (),
) -> list[Record]:
    """Lease up to ``limit`` due deliveries, oldest first, with their endpoint's URL and sealed secret.

    The caller leaves out what it cannot take now: subjects it still has deliveries of (their order), and receivers
    that have as many requests in flight as it allows (so one slow receiver's backlog does not fill its capacity).
    """
    d = webhook_deliveries.c
    due = (
        sa.select(d.id)
        .where(d.state == PENDING, d.due_at <= now, sa.or_(d.lease_until.is_(None), d.lease_until <= now))
        .order_by(d.due_at, d.id)
        .limit(limit)
    )
    # Each NOT IN lets the column's NULLs through (NOT IN alone would drop them).
    for column, values in ((d.subject, busy_subjects), (d.endpoint_id, full_endpoints), (d.url, full_urls)):
        if values:
            due = due.where(sa.or_(column.is_(None), none_of(conn, column, values)))
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = (
        await conn.execute(
            webhook_deliveries.update()
            .where(d.id.in_(due.scalar_subquery()))
            .values(lease_until=now + lease)
            .returning(d.id)
        )
    ).all()
    if not claimed:
        return []
    query = (
        sa.select(
            *webhook_deliveries.c,
            webhook_endpoints.c.url.label("endpoint_url"),
            webhook_endpoints.c.secret_sealed,
            webhook_endpoints.c.enabled,
        )
        .outerjoin(webhook_endpoints, webhook_endpoints.c.id == d.endpoint_id)
        .where(one_of(conn, d.id, [r.id for r in claimed]))
        .order_by(d.id)
    )
    return list((await conn.execute(query)).all())


async def release(conn: AsyncConnection, delivery_ids: Sequence[int], leased_until: datetime) -> None:
    """Give back deliveries claimed (until ``leased_until``) and not attempted: any worker may claim them now."""
    await conn.execute(
        webhook_deliveries.update()
        .where(
            webhook_deliveries.c.id.in_(list(delivery_ids)),
            webhook_deliveries.c.state == PENDING,
            webhook_deliveries.c.lease_until == leased_until,  # not since claimed by another worker
        )
        .values(lease_until=None)
    )


async def add_attempts(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert attempts (``delivery_id``, ``at``, ``status``, ``error``, ``answer``, ``duration_ms``): one
    statement (executemany) whatever their number."""
    if rows:
        await conn.execute(webhook_attempts.insert(), list(rows))


async def keep_first_attempts(conn: AsyncConnection, attempts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Deliveries delivered at their first attempt (``delivery_id``, ``at``, ``status``, ``answer``, ``duration_ms``),
    the attempt kept on the delivery: one UPDATE (executemany) and one SELECT whatever their number.

    Returns the attempts that were not first after all, for the caller to add as rows: an attempt of the same
    delivery recorded since the claim (another worker's, whose lease had run out, or one made after a resend while
    this one was in flight). Such a delivery keeps the first attempt it has; the UPDATE, which waits for that other
    transaction's row lock on PostgreSQL, counts this one all the same.
    """
    if not attempts:
        return []
    if conn.dialect.name == "postgresql":  # one statement: the arrays in, the counts out
        arrays = {k: [a[k] for a in attempts] for k in ("delivery_id", "at", "status", "answer", "duration_ms")}
        arrays["at"] = [naive_utc(at) for at in arrays["at"]]
        counted = (await conn.execute(_KEEP_FIRST_PG, arrays)).all()
        again = {row.id for row in counted if row.attempts > 1}
        return [a for a in attempts if a["delivery_id"] in again]
    d = webhook_deliveries.c
    first = d.attempts == 0  # the row as it is when the UPDATE reaches it

    def given(name: str, column: sa.Column[Any]) -> sa.BindParameter[Any]:
        return sa.bindparam(f"b_{name}", type_=column.type)

    at = given("at", d.first_at)
    await conn.execute(
        webhook_deliveries.update()
        .where(d.id == given("id", d.id))
        .values(
            state=DELIVERED,
            attempts=d.attempts + 1,
            lease_until=None,
            last_status=given("status", d.last_status),
            last_error=None,
            last_attempt_at=at,
            delivered_at=at,
            first_at=sa.case((first, at), else_=d.first_at),
            first_status=sa.case((first, given("status", d.first_status)), else_=d.first_status),
            first_answer=sa.case((first, given("answer", d.first_answer)), else_=d.first_answer),
            first_duration_ms=sa.case((first, given("duration_ms", d.first_duration_ms)), else_=d.first_duration_ms),
        ),
        [{f"b_{k}": a[k] for k in ("at", "status", "answer", "duration_ms")} | {"b_id": a["delivery_id"]}
         for a in attempts],
    )  # fmt: skip
    ids = [a["delivery_id"] for a in attempts]
    # One more attempt than this one: the UPDATE found another (its own batch's attempts are the caller's to tell).
    query = sa.select(d.id).where(one_of(conn, d.id, ids), d.attempts > 1)
    again = set((await conn.scalars(query)).all())
    return [a for a in attempts if a["delivery_id"] in again]


# `keep_first_attempts` on PostgreSQL: the UPDATE of every delivery from arrays, returning the counts it left (a SET
# expression reads the row as it was: ``d.attempts = 0`` is "no attempt before this one").
_KEEP_FIRST_PG = sa.text(
    planned_once(
        "UPDATE webhook_deliveries AS d SET state = 'delivered', attempts = d.attempts + 1, lease_until = NULL, "
        "last_status = v.status, last_error = NULL, last_attempt_at = v.at, delivered_at = v.at, "
        "first_at = CASE WHEN d.attempts = 0 THEN v.at ELSE d.first_at END, "
        "first_status = CASE WHEN d.attempts = 0 THEN v.status ELSE d.first_status END, "
        "first_answer = CASE WHEN d.attempts = 0 THEN v.answer ELSE d.first_answer END, "
        "first_duration_ms = CASE WHEN d.attempts = 0 THEN v.duration_ms ELSE d.first_duration_ms END "
        "FROM unnest(CAST(:delivery_id AS INTEGER[]), CAST(:at AS TIMESTAMP[]), CAST(:status AS INTEGER[]), "
        "CAST(:answer AS TEXT[]), CAST(:duration_ms AS INTEGER[])) AS v(id, at, status, answer, duration_ms) "
        "WHERE d.id = v.id RETURNING d.id, d.attempts"
    )
)


async def note_delivered(conn: AsyncConnection, delivery_ids: Sequence[int], status: int, at: datetime) -> None:
    """Deliveries that the receiver accepted with ``status`` at ``at``: one UPDATE for all of them."""
    if not delivery_ids:
        return
    await conn.execute(
        webhook_deliveries.update()
        .where(webhook_deliveries.c.id.in_(list(delivery_ids)))
        .values(
            state=DELIVERED,
            attempts=webhook_deliveries.c.attempts + 1,
            lease_until=None,
            last_status=status,
            last_error=None,
            last_attempt_at=at,
            delivered_at=at,
        )
    )


async def note_outcome(
    conn: AsyncConnection, delivery_id: int, attempt: dict[str, Any], *, state: str, due_at: datetime | None
) -> None:
    """A delivery's outcome (its attempt stored apart): delivered, failed for good, or pending again at ``due_at``."""
    values: dict[str, Any] = {
        "state": state,
        "attempts": webhook_deliveries.c.attempts + 1,
        "lease_until": None,
        "last_status": attempt["status"],
        "last_error": attempt["error"],
        "last_attempt_at": attempt["at"],
    }
    if due_at is not None:
        values["due_at"] = due_at
    if state == DELIVERED:
        values["delivered_at"] = attempt["at"]
    await conn.execute(webhook_deliveries.update().where(webhook_deliveries.c.id == delivery_id).values(**values))


async def resend(conn: AsyncConnection, delivery_id: int, now: datetime) -> bool:
    """Make a delivery due now again (same event id, same body); False when there is no such delivery."""
    done = await conn.execute(
        webhook_deliveries.update()
        .where(webhook_deliveries.c.id == delivery_id)
        .values(state=PENDING, due_at=now, lease_until=None)
    )
    return bool(done.rowcount)


async def find_delivery(conn: AsyncConnection, delivery_id: int) -> Record | None:
    query = sa.select(*webhook_deliveries.c).where(webhook_deliveries.c.id == delivery_id)
    return (await conn.execute(query)).first()


async def list_deliveries(
    conn: AsyncConnection, endpoint_id: str, *, limit: int = 50, before: int | None = None
) -> list[Record]:
    """An endpoint's deliveries, newest first."""
    query = sa.select(*webhook_deliveries.c).where(webhook_deliveries.c.endpoint_id == endpoint_id)
    if before is not None:
        query = query.where(webhook_deliveries.c.id < before)
    return list((await conn.execute(query.order_by(webhook_deliveries.c.id.desc()).limit(limit))).all())


@dataclass(frozen=True)
class Attempt:
    """An attempt as shown: a `webhook_attempts` row, or a first attempt kept on its delivery."""

    at: datetime
    status: int | None
    error: str | None
    answer: str | None
    duration_ms: int | None


async def attempts_of(conn: AsyncConnection, deliveries: Sequence[Record]) -> dict[int, list[Attempt]]:
    """Each delivery's attempts (``deliveries``: rows of `webhook_deliveries`), oldest first: the first one from
    the row when it is kept there, then its `webhook_attempts` rows."""
    found: dict[int, list[Attempt]] = {}
    for row in deliveries:
        found[row.id] = []
        if row.first_at is not None:
            found[row.id].append(Attempt(row.first_at, row.first_status, None, row.first_answer, row.first_duration_ms))
    if not found:
        return found
    a = webhook_attempts.c
    query = sa.select(*webhook_attempts.c).where(a.delivery_id.in_(list(found))).order_by(a.id)
    for row in (await conn.execute(query)).all():
        found[row.delivery_id].append(Attempt(row.at, row.status, row.error, row.answer, row.duration_ms))
    return found


async def note_failure(conn: AsyncConnection, endpoint_id: str, now: datetime) -> datetime:
    """Start the endpoint's run of failures if none is running; returns when it started."""
    await conn.execute(
        webhook_endpoints.update()
        .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.failing_since.is_(None))
        .values(failing_since=now)
    )
    since = await conn.scalar(sa.select(webhook_endpoints.c.failing_since).where(webhook_endpoints.c.id == endpoint_id))
    return since if since is not None else now


async def note_success(conn: AsyncConnection, endpoint_ids: Collection[str]) -> None:
    """End the endpoints' runs of failures (one UPDATE; it changes only those that were failing)."""
    if not endpoint_ids:
        return
    await conn.execute(
        webhook_endpoints.update()
        .where(webhook_endpoints.c.id.in_(list(endpoint_ids)), webhook_endpoints.c.failing_since.is_not(None))
        .values(failing_since=None)
    )


async def disable(conn: AsyncConnection, endpoint_id: str, reason: str, now: datetime) -> None:
    """Disable a failing endpoint; its pending deliveries fail (they are kept, and may be resent)."""
    await conn.execute(
        webhook_endpoints.update()
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(enabled=False, disabled_reason=reason, updated_at=now)
    )
    await conn.execute(
        webhook_deliveries.update()
        .where(webhook_deliveries.c.endpoint_id == endpoint_id, webhook_deliveries.c.state == PENDING)
        .values(state=FAILED, lease_until=None)
    )


async def next_due(conn: AsyncConnection) -> datetime | None:
    """When the next pending delivery can be claimed: its due time, or the end of its lease if that is later (a cheap
    read before a claim's write transaction).

    Two walks of an index, in one statement, each stopping at its first row: the earliest due time of a delivery
    with no lease ending after it (the due index, past the few leased ones), and the earliest lease that ends after
    its delivery's due time (the leased index: only claimed deliveries have a lease). A ``min()`` over every pending
    delivery read the whole backlog whenever this process had none in flight (migration 0019).
    """
    d = webhook_deliveries.c
    unleased = (
        sa.select(d.due_at)
        .where(d.state == PENDING, sa.or_(d.lease_until.is_(None), d.lease_until <= d.due_at))
        .order_by(d.due_at)
        .limit(1)
    )
    leased = (
        sa.select(d.lease_until)
        .where(d.lease_until.is_not(None), d.state == PENDING, d.lease_until > d.due_at)
        .order_by(d.lease_until)
        .limit(1)
    )
    row = (await conn.execute(sa.select(unleased.scalar_subquery(), leased.scalar_subquery()))).one()
    found = [at for at in row if at is not None]
    return min(found) if found else None
