"""The blocklist: numbers campaigns skip (a user's direct messages still go, seed 003)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import Record, blocklist, users


async def add(conn: AsyncConnection, number: str, *, reason: str, by: int | None, now: datetime) -> bool:
    """Add a number; False when it was already there (its first reason is kept)."""
    exists = await conn.scalar(sa.select(blocklist.c.number).where(blocklist.c.number == number))
    if exists is not None:
        return False
    await conn.execute(blocklist.insert().values(number=number, reason=reason, added_by=by, created_at=now))
    return True


async def remove(conn: AsyncConnection, number: str) -> bool:
    result = await conn.execute(blocklist.delete().where(blocklist.c.number == number))
    return bool(result.rowcount)


async def list_(conn: AsyncConnection, *, limit: int = 100, after: str | None = None) -> list[Record]:
    query = sa.select(*blocklist.c, users.c.extension.label("added_by_extension")).outerjoin(
        users, users.c.id == blocklist.c.added_by
    )
    if after:
        query = query.where(blocklist.c.number > after)
    return list((await conn.execute(query.order_by(blocklist.c.number).limit(limit))).all())


async def contains(conn: AsyncConnection, numbers: list[str]) -> set[str]:
    if not numbers:
        return set()
    query = sa.select(blocklist.c.number).where(blocklist.c.number.in_(numbers))
    return set((await conn.execute(query)).scalars())
