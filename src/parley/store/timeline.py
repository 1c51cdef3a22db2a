"""A conversation's timeline: its system events, linked calls and messages, as the timeline shows them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import Record, calls, conversation_events, messages, users


async def add_events(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(conversation_events.insert(), list(rows))


async def events(
    conn: AsyncConnection,
    conversation_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    upto: datetime | None = None,
) -> list[Record]:
    """The timeline's system events, oldest first; ``since`` (inclusive) and ``until`` (exclusive) bound a page,
    ``upto`` (inclusive) what a former participant still sees."""
    query = sa.select(conversation_events).where(
        conversation_events.c.conversation_id == conversation_id,
        *_within(conversation_events.c.at, since, until, upto),
    )
    return list((await conn.execute(query.order_by(conversation_events.c.id))).all())


async def calls_of(
    conn: AsyncConnection,
    conversation_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    upto: datetime | None = None,
) -> list[Record]:
    """The calls linked to a conversation, oldest first, bounded like `events`."""
    query = sa.select(calls).where(
        calls.c.conversation_id == conversation_id, *_within(calls.c.started_at, since, until, upto)
    )
    return list((await conn.execute(query.order_by(calls.c.started_at))).all())


def _within(
    at: sa.ColumnElement[datetime], since: datetime | None, until: datetime | None, upto: datetime | None
) -> list[sa.ColumnElement[bool]]:
    """``since`` (inclusive) and ``until`` (exclusive) bound a page, ``upto`` (inclusive) what a former participant
    still sees; a bound left out is no condition."""
    bounds = []
    if since is not None:
        bounds.append(at >= since)
    if until is not None:
        bounds.append(at < until)
    if upto is not None:
        bounds.append(at <= upto)
    return bounds


async def conversation_messages(
    conn: AsyncConnection,
    conversation_id: str,
    *,
    limit: int = 100,
    before_id: str | None = None,
    include_blocked: bool = False,
    upto: datetime | None = None,
) -> list[Record]:
    """The newest ``limit`` messages (before ``before_id``; created at or before ``upto``), oldest first; a blocked
    customer's only when asked."""
    query = _messages_with_sender().where(messages.c.conversation_id == conversation_id)
    if not include_blocked:
        query = query.where(messages.c.status != "blocked")
    if before_id:
        query = query.where(messages.c.id < before_id)
    if upto is not None:
        query = query.where(messages.c.created_at <= upto)
    rows = (await conn.execute(query.order_by(messages.c.id.desc()).limit(limit))).all()
    return list(reversed(rows))


def _messages_with_sender() -> sa.Select[Any]:
    """Messages as a timeline shows them: every column, and the extension of the user who sent it (``user``)."""
    return sa.select(*messages.c, users.c.extension.label("user")).outerjoin(users, users.c.id == messages.c.user_id)


async def timeline_messages(conn: AsyncConnection, message_ids: Sequence[str]) -> dict[str, Record]:
    """The messages with these ids, by id, in the timeline's shape (`conversation_messages`)."""
    if not message_ids:
        return {}
    rows = (await conn.execute(_messages_with_sender().where(messages.c.id.in_(list(message_ids))))).all()
    return {r.id: r for r in rows}


async def conversation_message(conn: AsyncConnection, conversation_id: str, message_id: str) -> Record | None:
    query = sa.select(messages.c.id, messages.c.created_at).where(
        messages.c.conversation_id == conversation_id, messages.c.id == message_id
    )
    return (await conn.execute(query)).first()
