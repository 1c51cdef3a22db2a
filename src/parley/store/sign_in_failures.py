"""Wrong-password counters shared by every process (and host): one row per throttling key."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import Record, sign_in_failures

table = sign_in_failures


async def list_live(conn: AsyncConnection, keys: list[str], since: datetime) -> list[Record]:
    """The counters among ``keys`` whose last failure is after ``since``."""
    query = sa.select(table).where(table.c.key.in_(keys), table.c.last_at > since)
    return list((await conn.execute(query)).all())


async def record(conn: AsyncConnection, keys: list[str], now: datetime, since: datetime) -> None:
    """Count one failure under each key; a counter whose last failure is not after ``since`` starts again."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    for key in keys:
        statement = insert(table).values(key=key, failures=1, last_at=now)
        # One statement, so two processes counting the same key's first failure cannot collide.
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "failures": sa.case((table.c.last_at > since, table.c.failures + 1), else_=1),
                    "last_at": now,
                },
            )
        )


async def clear(conn: AsyncConnection, keys: list[str]) -> None:
    await conn.execute(table.delete().where(table.c.key.in_(keys)))


async def forget_stale(conn: AsyncConnection, since: datetime) -> int:
    result = await conn.execute(table.delete().where(table.c.last_at <= since))
    return int(result.rowcount or 0)
