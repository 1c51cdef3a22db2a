"""Rows of stored files (`media`, `media_chunks`) and of messages' attachments (`message_media`).

A file kept in the database is written chunk by chunk, each in its own short transaction, so that a slow upload
holds no transaction open: its `media` row is inserted first with ``storage = "part"`` and becomes ``"db"`` once
the last chunk is in. Readers see only whole files (``disk`` or ``db``). A part left by a process that died
mid-upload is deleted by `delete_parts_before`.

Pending attachments are fetched under leases with the same claim contract as the job queue (`store/queue.py`):
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, SQLite's single writer otherwise. The claim's ``lease_until`` is also the
claimant's token: an outcome is recorded only while the row still carries it, so a worker whose lease ran out and
was taken over cannot overwrite the newer claimant's outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.bulk import insert_rows
from parley.store.tables import Record, media, media_chunks, message_media, messages, participants, settings

WHOLE = ("disk", "db")
PART = "part"


# --- files -----------------------------------------------------------------------------------------------------


async def add(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(media.insert().values(**row))


async def complete(conn: AsyncConnection, media_id: str, values: dict[str, Any]) -> None:
    """A file kept in chunks is whole: its type, size, digest and ``storage = "db"``."""
    await conn.execute(media.update().where(media.c.id == media_id).values(**values))


async def add_chunk(conn: AsyncConnection, media_id: str, seq: int, data: bytes) -> None:
    await conn.execute(media_chunks.insert().values(media_id=media_id, seq=seq, data=data))


async def chunk(conn: AsyncConnection, media_id: str, seq: int) -> bytes | None:
    data = await conn.scalar(
        sa.select(media_chunks.c.data).where(media_chunks.c.media_id == media_id, media_chunks.c.seq == seq)
    )
    return bytes(data) if data is not None else None


async def delete(conn: AsyncConnection, media_id: str) -> None:
    """A file and its chunks (explicitly: SQLite enforces the cascade only with its foreign keys switched on)."""
    await conn.execute(media_chunks.delete().where(media_chunks.c.media_id == media_id))
    await conn.execute(media.delete().where(media.c.id == media_id))


async def find(conn: AsyncConnection, media_id: str) -> Record | None:
    query = sa.select(media).where(media.c.id == media_id, media.c.storage.in_(WHOLE))
    return (await conn.execute(query)).first()


async def get_many(conn: AsyncConnection, ids: Sequence[str]) -> list[Record]:
    if not ids:
        return []
    query = sa.select(media).where(media.c.id.in_(list(ids)), media.c.storage.in_(WHOLE))
    return list((await conn.execute(query)).all())


async def delete_parts_before(conn: AsyncConnection, before: datetime) -> list[str]:
    """Files whose upload never finished (the process died), started before ``before``: deleted, ids returned."""
    ids = list(await conn.scalars(sa.select(media.c.id).where(media.c.storage == PART, media.c.created_at < before)))
    for media_id in ids:
        await delete(conn, media_id)
    return ids


async def may_read(conn: AsyncConnection, media_id: str, user_id: int) -> bool:
    """Whether a (non-admin) user may read a file: he uploaded it, sent a message that has it, or is a participant
    of a conversation with such a message — a former participant only for messages from before he left."""
    owner = await conn.scalar(sa.select(media.c.owner_id).where(media.c.id == media_id))
    if owner == user_id:
        return True
    holders = sa.select(messages.c.id).join(message_media, message_media.c.message_id == messages.c.id)
    holders = holders.where(message_media.c.media_id == media_id)
    if await conn.scalar(holders.where(messages.c.user_id == user_id).limit(1)) is not None:
        return True
    member = holders.join(participants, participants.c.conversation_id == messages.c.conversation_id).where(
        participants.c.user_id == user_id,
        sa.or_(
            participants.c.active.is_(True),
            participants.c.left_at.is_(None),
            messages.c.created_at <= participants.c.left_at,
        ),
    )
    return await conn.scalar(member.limit(1)) is not None


# --- the signing key -----------------------------------------------------------------------------------------


async def signing_key(conn: AsyncConnection, key: str, fresh: str) -> str:
    """The value stored under ``key`` in `settings`; ``fresh`` is stored first when there is none (the first
    process to ask wins, the others read what it stored)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    await conn.execute(insert(settings).values(key=key, value=fresh).on_conflict_do_nothing())
    stored = await conn.scalar(sa.select(settings.c.value).where(settings.c.key == key))
    return str(stored)


# --- messages' attachments -------------------------------------------------------------------------------------


def link_row(
    message_id: str, position: int, *, media_id: str | None = None, source: str | None = None,
    transport: str | None = None, due_at: datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One `message_media` row: a stored file (``media_id``: ready), or a file a provider holds at ``source``, to be
    fetched through ``transport`` from ``due_at`` on (pending)."""
    state = "ready" if media_id is not None else "pending"
    return {"message_id": message_id, "position": position, "media_id": media_id, "source": source,
            "transport": transport, "state": state, "attempts": 0, "due_at": due_at, "lease_until": None,
            "error": None}  # fmt: skip


async def add_links(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """`message_media` rows (full rows, same keys), after their messages."""
    await insert_rows(conn, message_media, rows)


async def links(conn: AsyncConnection, message_ids: Sequence[str]) -> list[Record]:
    """The attachments of messages, each with its file's columns (None while pending), by message then position."""
    if not message_ids:
        return []
    query = (
        sa.select(
            message_media.c.message_id,
            message_media.c.position,
            message_media.c.state,
            message_media.c.error,
            media.c.id,
            media.c.content_type,
            media.c.size,
            media.c.filename,
        )
        .outerjoin(media, media.c.id == message_media.c.media_id)
        .where(message_media.c.message_id.in_(list(message_ids)))
        .order_by(message_media.c.message_id, message_media.c.position)
    )
    return list((await conn.execute(query)).all())


@dataclass(frozen=True)
class ClaimedFetch:
    message_id: str
    position: int
    source: str
    transport: str
    attempts: int  # including this one
    lease_until: datetime  # the claimant's token (see the module docstring)


async def claim_pending(conn: AsyncConnection, *, now: datetime, lease: timedelta, limit: int) -> list[ClaimedFetch]:
    """Lease up to ``limit`` pending attachments that are due, oldest first. Call inside a write transaction."""
    key = sa.tuple_(message_media.c.message_id, message_media.c.position)
    due = (
        sa.select(message_media.c.message_id, message_media.c.position)
        .where(
            message_media.c.state == "pending",
            message_media.c.due_at <= now,
            sa.or_(message_media.c.lease_until.is_(None), message_media.c.lease_until <= now),
        )
        .order_by(message_media.c.due_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    until = now + lease
    statement = (
        message_media.update()
        .where(key.in_(due))
        .values(lease_until=until, attempts=message_media.c.attempts + 1)
        .returning(
            message_media.c.message_id,
            message_media.c.position,
            message_media.c.source,
            message_media.c.transport,
            message_media.c.attempts,
        )
    )
    rows = (await conn.execute(statement)).all()
    return [ClaimedFetch(r.message_id, r.position, r.source or "", r.transport or "", r.attempts, until) for r in rows]


async def record(conn: AsyncConnection, claimed: ClaimedFetch, values: dict[str, Any]) -> bool:
    """Record a fetch's outcome (``values``: state, media_id, due_at, error), lease released; False when the row
    no longer carries this claim (another worker took it over)."""
    statement = (
        message_media.update()
        .where(
            message_media.c.message_id == claimed.message_id,
            message_media.c.position == claimed.position,
            message_media.c.state == "pending",
            message_media.c.lease_until == claimed.lease_until,
        )
        .values(lease_until=None, **values)
    )
    result = await conn.execute(statement)
    return bool(result.rowcount)
