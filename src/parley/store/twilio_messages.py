"""Reads and changes the Twilio-compatible Messages API needs (issue 13 §3): pages in both directions, the time a
message was sent, its number of files, withdrawing a scheduled message and deleting one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store import usage
from parley.store.messages import set_status
from parley.store.tables import (
    Record,
    blocklist,
    jobs,
    message_events,
    message_media,
    message_parts,
    messages,
    optouts,
    services,
)
from parley.store.tables import service_members as members

# The first time a message reached the carrier: Twilio's `date_sent`.
_SENT_STATUSES = ("sent", "delivered", "undelivered", "read")


@dataclass(frozen=True)
class Query:
    user_id: int | None  # None: everyone's (an administrator's key)
    to: str | None = None
    sender: str | None = None
    since: datetime | None = None  # sent (or to be sent) at or after
    until: datetime | None = None  # ... and before
    older_than: str | None = None  # keyset: ids sort by creation time
    newer_than: str | None = None
    limit: int = 50


def _columns() -> list[Any]:
    sent_at = (
        sa.select(sa.func.min(message_events.c.at))
        .where(message_events.c.message_id == messages.c.id, message_events.c.status.in_(_SENT_STATUSES))
        .scalar_subquery()
    )
    media = sa.select(sa.func.count()).where(message_media.c.message_id == messages.c.id).scalar_subquery()
    return [*messages.c, sent_at.label("sent_at"), media.label("media_count")]


async def page(conn: AsyncConnection, q: Query) -> list[Record]:
    """Up to ``q.limit`` messages, newest first: the ones older than ``older_than``, or the ``limit`` just newer
    than ``newer_than`` (the page before it)."""
    when = sa.func.coalesce(messages.c.send_at, messages.c.created_at)
    conditions: list[Any] = []
    if q.user_id is not None:
        conditions.append(messages.c.user_id == q.user_id)
    if q.to:
        conditions.append(messages.c.recipient == q.to)
    if q.sender:
        conditions.append(messages.c.sender == q.sender)
    if q.since is not None:
        conditions.append(when >= q.since)
    if q.until is not None:
        conditions.append(when < q.until)
    query = sa.select(*_columns()).where(*conditions)
    if q.newer_than is not None:
        query = query.where(messages.c.id > q.newer_than).order_by(messages.c.id.asc()).limit(q.limit)
        return list(reversed((await conn.execute(query)).all()))
    if q.older_than is not None:
        query = query.where(messages.c.id < q.older_than)
    return list((await conn.execute(query.order_by(messages.c.id.desc()).limit(q.limit))).all())


async def exists_beyond(conn: AsyncConnection, q: Query, *, older_than: str | None, newer_than: str | None) -> bool:
    """Whether a message matching ``q``'s filters lies beyond the page's edge."""
    probe = Query(q.user_id, q.to, q.sender, q.since, q.until, older_than, newer_than, limit=1)
    return bool(await page(conn, probe))


async def find(conn: AsyncConnection, message_id: str) -> Record | None:
    return (await conn.execute(sa.select(*_columns()).where(messages.c.id == message_id))).first()


async def withdraw(conn: AsyncConnection, message_id: str, *, now: datetime) -> bool:
    """Cancel a scheduled message no worker has claimed: its job goes, its status becomes ``cancelled``, its
    segments leave the user's monthly count and its charge is dropped."""
    query = sa.select(jobs.c.message_id).where(jobs.c.message_id == message_id, jobs.c.lease_until.is_(None))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    if (await conn.execute(query)).first() is None:
        return False
    row = (await conn.execute(sa.select(*messages.c).where(messages.c.id == message_id))).first()
    if row is None or row.status != "scheduled":
        return False
    await conn.execute(jobs.delete().where(jobs.c.message_id == message_id))
    await set_status(conn, [{"id": message_id, "status": "cancelled", "detail": "canceled through the API"}], now=now)
    # Never sent: its segments leave the month's count they were added to, and it costs nothing.
    if row.user_id is not None and row.channel == "sms":
        await usage.add(conn, row.user_id, row.created_at.strftime("%Y-%m"), -row.segments)
    await conn.execute(messages.update().where(messages.c.id == message_id).values(charge=None, currency=None))
    return True


async def delete(conn: AsyncConnection, message_id: str) -> None:
    """Remove a message with its history, parts, files' links and job (foreign keys cascade on PostgreSQL;
    SQLite is told the same explicitly)."""
    await conn.execute(jobs.delete().where(jobs.c.message_id == message_id))
    await conn.execute(message_events.delete().where(message_events.c.message_id == message_id))
    await conn.execute(message_media.delete().where(message_media.c.message_id == message_id))
    await conn.execute(message_parts.delete().where(message_parts.c.message_id == message_id))
    await conn.execute(messages.delete().where(messages.c.id == message_id))


async def opted_out(conn: AsyncConnection, company_number: str, customer: str) -> bool:
    """Whether the customer said STOP to this company number, or is on the blocklist by his own opt-out."""
    pair = sa.select(optouts.c.opted_out).where(
        optouts.c.company_number == company_number, optouts.c.external_number == customer
    )
    if (await conn.execute(pair)).scalar():
        return True
    listed = sa.select(blocklist.c.reason).where(blocklist.c.number == customer)
    reason = (await conn.execute(listed)).scalar()
    return reason is not None and str(reason).startswith("opt-out")


async def services_of(conn: AsyncConnection, user_id: int | None) -> list[tuple[int, str | None]]:
    """(id, SMS number) of the services the user belongs to; every service for None (an administrator)."""
    return [(sid, number) for sid, _, number in await service_details(conn, user_id)]


async def service_details(conn: AsyncConnection, user_id: int | None) -> list[tuple[int, str, str | None]]:
    """(id, name, SMS number) of the services the user belongs to; every service for None (an administrator)."""
    query = sa.select(services.c.id, services.c.name, services.c.sms_number).order_by(services.c.id)
    if user_id is not None:
        query = query.join(members, members.c.service_id == services.c.id).where(members.c.user_id == user_id)
    return [(int(r.id), str(r.name), r.sms_number) for r in (await conn.execute(query)).all()]


async def service_numbers(conn: AsyncConnection, numbers: Sequence[str]) -> dict[str, int]:
    """Company number -> the (first) service that has it as its SMS number."""
    if not numbers:
        return {}
    query = sa.select(services.c.id, services.c.sms_number).where(services.c.sms_number.in_(list(numbers)))
    found: dict[str, int] = {}
    for row in (await conn.execute(query.order_by(services.c.id))).all():
        found.setdefault(row.sms_number, int(row.id))
    return found
