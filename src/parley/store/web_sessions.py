"""Web console sessions (the wrong-password counters are `store.sign_in_failures`)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import Record, users, web_sessions


async def create(
    conn: AsyncConnection, token_hash: str, user_id: int, csrf: str, stamp: str, *, now: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        web_sessions.insert().values(
            token_hash=token_hash,
            user_id=user_id,
            csrf=csrf,
            password_stamp=stamp,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def find(conn: AsyncConnection, token_hash: str, now: datetime) -> Record | None:
    """The live session with its user's extension."""
    query = (
        sa.select(web_sessions, users.c.extension)
        .join(users, users.c.id == web_sessions.c.user_id)
        .where(web_sessions.c.token_hash == token_hash, web_sessions.c.expires_at > now)
    )
    return (await conn.execute(query)).first()


async def extend(conn: AsyncConnection, token_hash: str, expires_at: datetime) -> None:
    await conn.execute(
        web_sessions.update().where(web_sessions.c.token_hash == token_hash).values(expires_at=expires_at)
    )


async def delete(conn: AsyncConnection, token_hash: str) -> None:
    await conn.execute(web_sessions.delete().where(web_sessions.c.token_hash == token_hash))


async def delete_expired(conn: AsyncConnection, now: datetime) -> int:
    result = await conn.execute(web_sessions.delete().where(web_sessions.c.expires_at <= now))
    return int(result.rowcount or 0)


async def restamp(conn: AsyncConnection, token_hash: str, stamp: str) -> None:
    await conn.execute(
        web_sessions.update().where(web_sessions.c.token_hash == token_hash).values(password_stamp=stamp)
    )
