"""Parts of concatenated MO messages held until their message is whole (or given up on: core/concat.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.concat import Part
from parley.store.tables import Record, inbound_parts

Key = tuple[str, str, int]  # transport, sender, reference


async def lock(conn: AsyncConnection, key: Key) -> None:
    """Serialise the parts of one reference across processes (PostgreSQL; SQLite has one writer anyway).

    Without it, two workers storing two parts of one message at once would each miss the other's part.
    """
    if conn.dialect.name == "postgresql":
        digest = hashlib.blake2b("|".join(map(str, key)).encode(), digest_size=8).digest()
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(int.from_bytes(digest, "big", signed=True))))


async def held(conn: AsyncConnection, key: Key) -> list[Part]:
    rows = (await conn.execute(sa.select(inbound_parts).where(*_where(key)))).all()
    return [_part(r) for r in rows]


async def add(conn: AsyncConnection, key: Key, part: Part) -> None:
    transport, sender, reference = key
    await conn.execute(
        inbound_parts.insert().values(
            transport=transport,
            sender=sender,
            reference=reference,
            seq=part.seq,
            total=part.total,
            recipient=part.recipient,
            text=part.text,
            received_at=part.received_at,
        )
    )


async def take(conn: AsyncConnection, key: Key) -> list[Part]:
    """Remove the parts of one reference and return those this transaction removed (none if another did)."""
    rows = (await conn.execute(inbound_parts.delete().where(*_where(key)).returning(*inbound_parts.c))).all()
    return [_part(r) for r in rows]


async def take_stale(conn: AsyncConnection, before: datetime) -> dict[Key, list[Part]]:
    """Remove every reference that has a part received before ``before``; their parts by reference."""
    stale = sa.select(inbound_parts.c.transport, inbound_parts.c.sender, inbound_parts.c.reference).where(
        inbound_parts.c.received_at < before
    )
    columns = sa.tuple_(inbound_parts.c.transport, inbound_parts.c.sender, inbound_parts.c.reference)
    statement = inbound_parts.delete().where(columns.in_(stale)).returning(*inbound_parts.c)
    found: dict[Key, list[Part]] = {}
    for r in (await conn.execute(statement)).all():
        found.setdefault((r.transport, r.sender, r.reference), []).append(_part(r))
    return found


def _where(key: Key) -> Sequence[sa.ColumnElement[bool]]:
    transport, sender, reference = key
    return (
        inbound_parts.c.transport == transport,
        inbound_parts.c.sender == sender,
        inbound_parts.c.reference == reference,
    )


def _part(row: Record) -> Part:
    return Part(row.seq, row.total, row.recipient, row.text, row.received_at)
