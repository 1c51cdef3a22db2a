"""Queries behind marking a customer's WhatsApp messages read at Meta (issue 12 §6; `services/whatsapp_read.py`).

The request is a `jobs` row of kind ``waread`` on the message whose wamid goes to Meta; a message marked read at
Meta gets a ``read`` row in `message_events` (its status history shows when), which is also what keeps it from
being marked twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import conversations, jobs, message_events, messages

KIND = "waread"
MARKED = "read"  # the message_events status of a message marked read at Meta
LOOK_BACK = 20  # inbound WhatsApp messages looked at, newest first, for one to mark


@dataclass(frozen=True)
class Candidate:
    message_id: str
    marked: bool
    job_kind: str | None  # the kind of a job the message already has (the primary key allows one)


@dataclass(frozen=True)
class ToMark:
    message_id: str
    wamid: str | None
    transport: str | None


async def newest_inbound(conn: AsyncConnection, conversation_id: str) -> list[Candidate]:
    """The conversation's latest inbound WhatsApp messages, newest (last received) first, with whether each is
    marked and its job. A conversation the customer never wrote in on WhatsApp costs one primary-key read."""
    wrote = sa.select(conversations.c.whatsapp_last_inbound_at).where(conversations.c.id == conversation_id)
    if await conn.scalar(wrote) is None:
        return []
    marked = (
        sa.select(message_events.c.id)
        .where(message_events.c.message_id == messages.c.id, message_events.c.status == MARKED)
        .exists()
    )
    query = (
        sa.select(messages.c.id, marked.label("marked"), jobs.c.kind)
        .outerjoin(jobs, jobs.c.message_id == messages.c.id)
        .where(
            messages.c.conversation_id == conversation_id,
            messages.c.direction == "in",
            messages.c.channel == "whatsapp",
            messages.c.carrier_id.is_not(None),
        )
        .order_by(messages.c.id.desc())  # ix_messages_conversation_latest: no sort however long the conversation
        .limit(LOOK_BACK)
    )
    return [Candidate(r.id, bool(r.marked), r.kind) for r in (await conn.execute(query)).all()]


async def add_job(conn: AsyncConnection, message_id: str, due: datetime) -> None:
    """Add the ``waread`` job; nothing if the message got a job meanwhile (two members reading at once)."""
    values = {"message_id": message_id, "kind": KIND, "due_at": due, "attempts": 0}
    if conn.dialect.name == "postgresql":
        await conn.execute(postgresql.insert(jobs).values(values).on_conflict_do_nothing())
    elif conn.dialect.name == "sqlite":
        await conn.execute(sqlite.insert(jobs).values(values).on_conflict_do_nothing())
    else:  # pragma: no cover - Parley runs on SQLite or PostgreSQL
        await conn.execute(jobs.insert().values(values))


async def to_mark(conn: AsyncConnection, message_ids: list[str]) -> dict[str, ToMark]:
    rows = (
        await conn.execute(
            sa.select(messages.c.id, messages.c.carrier_id, messages.c.transport).where(messages.c.id.in_(message_ids))
        )
    ).all()
    return {r.id: ToMark(r.id, r.carrier_id, r.transport) for r in rows}


async def record_marked(conn: AsyncConnection, message_id: str, at: datetime, detail: str) -> None:
    await conn.execute(message_events.insert().values(message_id=message_id, status=MARKED, at=at, detail=detail))
