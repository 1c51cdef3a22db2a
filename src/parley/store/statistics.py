"""Read-only figures over messages for the statistics pages and the SMS report (issue 5 item 5).

Every query takes a half-open UTC range ``[since, until)`` and an optional ``user_id`` scope: a user's figures are
the messages they sent and the inbound messages of the conversations they are (or were) in. Grouping happens in
the database; a group's count of rows is bounded by days, users, numbers or statuses, never by messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from parley.store.search import contains
from parley.store.tables import Record, UtcDateTime, messages, participants, usage, users


@dataclass(frozen=True)
class Span:
    """A stretch of time over which the PBX zone's UTC offset does not change (DST splits a period in spans)."""

    since: datetime
    until: datetime
    offset_seconds: int


@dataclass(frozen=True)
class MessageQuery:
    """The report's filters. ``text`` matches inside the body (case-insensitive)."""

    since: datetime
    until: datetime
    user_id: int | None = None
    direction: str | None = None
    status: str | None = None
    sender: str | None = None
    recipient: str | None = None
    text: str | None = None
    before_id: str | None = None  # keyset: the page starts after this message (newest first)
    limit: int = 50


def _scope(user_id: int | None) -> list[ColumnElement[bool]]:
    if user_id is None:
        return []
    theirs = sa.select(participants.c.conversation_id).where(participants.c.user_id == user_id)
    received = sa.and_(messages.c.direction == "in", messages.c.conversation_id.in_(theirs))
    return [sa.or_(messages.c.user_id == user_id, received)]


def _created_at(scan: bool) -> ColumnElement[Any]:
    """``created_at``, or for a table scan the same column behind SQLite's unary ``+``, which keeps the planner
    off ix_messages_created_at (https://sqlite.org/optoverview.html#disqualifying_where_clause_terms)."""
    if not scan:
        return messages.c.created_at
    return sa.type_coerce(sa.literal_column("+messages.created_at"), UtcDateTime)


def _within(since: datetime, until: datetime, user_id: int | None, scan: bool = False) -> list[ColumnElement[bool]]:
    created_at = _created_at(scan)
    return [created_at >= since, created_at < until, *_scope(user_id)]


async def _table_scan_is_cheaper(conn: AsyncConnection, since: datetime, until: datetime) -> bool:
    """SQLite: read the whole table in order rather than fetch each row of a wide range through the index.

    Measured on 100,000 messages: 85,000 of them fetched through ix_messages_created_at take about 70 ms, a
    scan of the whole table about 13 ms; the scan wins once the range holds more than about a sixth of the rows.
    Counting the range is cheap (the index covers it); max(rowid) stands for the table's size.
    PostgreSQL's planner weighs this itself.
    """
    if conn.dialect.name != "sqlite":
        return False
    in_range = sa.select(sa.func.count()).where(messages.c.created_at >= since, messages.c.created_at < until)
    rows = int(await conn.scalar(in_range) or 0)
    size = int(await conn.scalar(sa.text("SELECT max(rowid) FROM messages")) or 0)
    return rows * 6 > size


ASSUMED = "delivered (assumed)"  # issue 14 §5: counted apart from deliveries a receipt confirmed


def reported_status() -> ColumnElement[Any]:
    """``status``, except "delivered (assumed)" for a message delivered without a receipt."""
    assumed = sa.and_(messages.c.status == "delivered", messages.c.delivery_assumed.is_(True))
    return sa.case((assumed, sa.literal(ASSUMED)), else_=messages.c.status)


def _local_day(conn: AsyncConnection, offset_seconds: int) -> ColumnElement[Any]:
    """The calendar day of ``created_at`` shifted by a fixed offset (text ``YYYY-MM-DD`` on SQLite, a date on PG)."""
    offset = int(offset_seconds)
    if conn.dialect.name == "postgresql":
        shifted = messages.c.created_at + sa.literal_column(f"interval '{offset} seconds'")
        return sa.cast(shifted, sa.Date)
    return sa.func.date(messages.c.created_at, f"{offset:+d} seconds")


async def count_grouped(conn: AsyncConnection, spans: Sequence[Span], user_id: int | None) -> list[Record]:
    """One pass over the period: (day, direction, channel, status, user_id, number, charge, currency, messages,
    segments).

    ``number`` is the company side (the sender of MT, the recipient of MO). Per day, per user, per number, per
    status, per channel (SMS and MMS are counted apart, issue 11 §6) and the cost all come from these groups, so
    the messages are read once instead of once per table. A day split by a DST change comes back in two groups.
    """
    number = sa.case((messages.c.direction == "out", messages.c.sender), else_=messages.c.recipient)
    rows: list[Record] = []
    for span in spans:
        scan = await _table_scan_is_cheaper(conn, span.since, span.until)
        keys = [
            _local_day(conn, span.offset_seconds).label("day"),
            messages.c.direction,
            messages.c.channel,
            reported_status().label("status"),
            messages.c.user_id,
            number.label("number"),
            messages.c.charge,
            messages.c.currency,
        ]
        query = (
            sa.select(
                *keys,
                sa.func.count().label("messages"),
                sa.func.coalesce(sa.func.sum(messages.c.segments), 0).label("segments"),
            )
            .where(*_within(span.since, span.until, user_id, scan))
            .group_by(*keys)
        )
        rows.extend((await conn.execute(query)).all())
    return rows


async def received_by_user(
    conn: AsyncConnection, since: datetime, until: datetime, user_id: int | None
) -> list[Record]:
    """(user_id, channel, received): inbound messages of the conversations each user is or was in, per channel.

    Counted per conversation first, then spread over its members: the join is then conversations x members,
    not messages x members.
    """
    scan = await _table_scan_is_cheaper(conn, since, until)
    per_conversation = (
        sa.select(messages.c.conversation_id, messages.c.channel, sa.func.count().label("received"))
        .where(
            messages.c.direction == "in", messages.c.conversation_id.is_not(None), *_within(since, until, None, scan)
        )
        .group_by(messages.c.conversation_id, messages.c.channel)
        .subquery()
    )
    member = participants.c.user_id == user_id if user_id is not None else participants.c.user_id.is_not(None)
    query = (
        sa.select(
            participants.c.user_id,
            per_conversation.c.channel,
            sa.func.sum(per_conversation.c.received).label("received"),
        )
        .select_from(
            per_conversation.join(participants, participants.c.conversation_id == per_conversation.c.conversation_id)
        )
        .where(member)
        .group_by(participants.c.user_id, per_conversation.c.channel)
    )
    return list((await conn.execute(query)).all())


async def list_usage(conn: AsyncConnection, month: str, user_ids: Sequence[int] | None) -> dict[int, int]:
    """Segments used in ``month`` (YYYY-MM) per user; every user's when ``user_ids`` is None."""
    query = sa.select(usage.c.user_id, usage.c.segments).where(usage.c.month == month)
    if user_ids is not None:
        query = query.where(usage.c.user_id.in_(list(user_ids)))
    return {row.user_id: int(row.segments) for row in (await conn.execute(query)).all()}


async def list_users(conn: AsyncConnection, user_ids: Sequence[int]) -> dict[int, Record]:
    """(id, extension, name, sms_package) of the given users."""
    if not user_ids:
        return {}
    query = sa.select(users.c.id, users.c.extension, users.c.name, users.c.sms_package).where(
        users.c.id.in_(list(user_ids))
    )
    return {row.id: row for row in (await conn.execute(query)).all()}


def _report_query(q: MessageQuery) -> sa.Select[tuple[object, ...]]:
    conditions = _within(q.since, q.until, q.user_id)
    if q.direction:
        conditions.append(messages.c.direction == q.direction)
    if q.status:
        conditions.append(messages.c.status == q.status)
    if q.sender:
        conditions.append(messages.c.sender == q.sender)
    if q.recipient:
        conditions.append(messages.c.recipient == q.recipient)
    if q.text:
        conditions.append(contains(messages.c.body, q.text))
    if q.before_id:
        # Keyset on (created_at, id), the order the rows come in: the created_at index then serves both the
        # period's range and the order (SQLite otherwise sorts the whole period for each page).
        mark = sa.select(messages.c.created_at).where(messages.c.id == q.before_id).scalar_subquery()
        conditions.append(sa.tuple_(messages.c.created_at, messages.c.id) < sa.tuple_(mark, q.before_id))
    columns = [
        messages.c.id,
        messages.c.created_at,
        messages.c.direction,
        messages.c.channel,
        messages.c.sender,
        messages.c.recipient,
        reported_status().label("status"),  # "delivered (assumed)" in the report and its CSV too
        messages.c.segments,
        messages.c.charge,
        messages.c.currency,
        messages.c.body,
        messages.c.error,
        users.c.extension,
        users.c.name.label("user_name"),
    ]
    return (
        sa.select(*columns)
        .outerjoin(users, users.c.id == messages.c.user_id)
        .where(*conditions)
        .order_by(messages.c.created_at.desc(), messages.c.id.desc())
        .limit(q.limit)
    )


async def list_messages(conn: AsyncConnection, q: MessageQuery) -> list[Record]:
    """One page of the report, newest first (created_at, then id); the next page's ``before_id`` is the last id."""
    return list((await conn.execute(_report_query(q))).all())
