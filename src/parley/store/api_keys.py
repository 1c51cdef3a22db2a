"""API keys (`tables.api_keys`): one indexed lookup per request, by the secret's hash or by the key SID."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import Record, api_keys, users

_owner = users.alias("owner")
_creator = users.alias("creator")
_SHOWN = (
    api_keys.c.id,
    api_keys.c.user_id,
    api_keys.c.name,
    api_keys.c.scopes,
    api_keys.c.created_at,
    api_keys.c.expires_at,
    api_keys.c.last_used_at,
    _owner.c.extension.label("extension"),
    _creator.c.extension.label("created_by"),
)


def _shown() -> sa.Select[Any]:
    return (
        sa.select(*_SHOWN)
        .join(_owner, _owner.c.id == api_keys.c.user_id)
        .outerjoin(_creator, _creator.c.id == api_keys.c.created_by)
    )


async def add(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(api_keys.insert().values(**row))


async def find(conn: AsyncConnection, key_id: str) -> Record | None:
    """A key as it may be shown (no secret material), with its owner's and creator's extensions."""
    return (await conn.execute(_shown().where(api_keys.c.id == key_id))).first()


async def list_(conn: AsyncConnection, user_id: int | None) -> list[Record]:
    """Keys as they may be shown, newest first: one user's, or everyone's (``user_id`` None)."""
    query = _shown().order_by(api_keys.c.created_at.desc(), api_keys.c.id)
    if user_id is not None:
        query = query.where(api_keys.c.user_id == user_id)
    return list((await conn.execute(query)).all())


async def find_for_auth(
    conn: AsyncConnection, *, secret_hash: str | None = None, key_id: str | None = None
) -> Record | None:
    """What authentication needs of one key (its hash, scopes, owner, expiry, last use), by one indexed column."""
    query = sa.select(
        api_keys.c.id,
        api_keys.c.user_id,
        api_keys.c.scopes,
        api_keys.c.secret_hash,
        api_keys.c.expires_at,
        api_keys.c.last_used_at,
        users.c.extension,
    ).join(users, users.c.id == api_keys.c.user_id)
    if secret_hash is not None:
        query = query.where(api_keys.c.secret_hash == secret_hash)
    elif key_id is not None:
        query = query.where(api_keys.c.id == key_id)
    else:
        raise ValueError("find_for_auth needs a secret_hash or a key_id")
    return (await conn.execute(query)).first()


async def sealed_secret(conn: AsyncConnection, key_id: str) -> str | None:
    return await conn.scalar(sa.select(api_keys.c.secret_sealed).where(api_keys.c.id == key_id))


async def touch(conn: AsyncConnection, key_id: str, now: datetime, every: timedelta) -> None:
    """Record a use at ``now`` unless one was recorded less than ``every`` ago (by any process)."""
    await conn.execute(
        api_keys.update()
        .where(
            api_keys.c.id == key_id,
            sa.or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at <= now - every),
        )
        .values(last_used_at=now)
    )


async def delete(conn: AsyncConnection, key_id: str) -> bool:
    result = await conn.execute(api_keys.delete().where(api_keys.c.id == key_id))
    return bool(result.rowcount)
