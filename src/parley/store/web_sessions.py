"""Web console sign-ins and the wrong-password counters behind sign-in throttling."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import Record, sign_in_failures, users, web_sessions


async def create(
    conn: AsyncConnection, token_hash: str, user_id: int, csrf: str, *, now: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        web_sessions.insert().values(
            token_hash=token_hash, user_id=user_id, csrf=csrf, created_at=now, expires_at=expires_at
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


async def failures(conn: AsyncConnection, keys: list[str]) -> list[Record]:
    return list((await conn.execute(sa.select(sign_in_failures).where(sign_in_failures.c.key.in_(keys)))).all())


async def record_failure(conn: AsyncConnection, key: str, now: datetime) -> None:
    updated = await conn.execute(
        sign_in_failures.update()
        .where(sign_in_failures.c.key == key)
        .values(failures=sign_in_failures.c.failures + 1, last_at=now)
    )
    if not updated.rowcount:
        await conn.execute(sign_in_failures.insert().values(key=key, failures=1, last_at=now))


async def clear_failures(conn: AsyncConnection, keys: list[str]) -> None:
    await conn.execute(sign_in_failures.delete().where(sign_in_failures.c.key.in_(keys)))
