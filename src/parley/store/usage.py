"""Monthly SMS usage per user (segments), counted when a message is accepted."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import usage


async def add(conn: AsyncConnection, user_id: int, month: str, segments: int) -> int:
    """Add ``segments`` to the user's month and return the new total (atomic upsert)."""
    insert = postgresql.insert(usage) if conn.dialect.name == "postgresql" else sqlite.insert(usage)
    statement = (
        insert.values(user_id=user_id, month=month, segments=segments)
        .on_conflict_do_update(
            index_elements=[usage.c.user_id, usage.c.month],
            set_={"segments": usage.c.segments + insert.excluded.segments},
        )
        .returning(usage.c.segments)
    )
    return int((await conn.execute(statement)).scalar_one())


async def month_total(conn: AsyncConnection, user_id: int, month: str) -> int:
    query = sa.select(usage.c.segments).where(usage.c.user_id == user_id, usage.c.month == month)
    return int(await conn.scalar(query) or 0)
