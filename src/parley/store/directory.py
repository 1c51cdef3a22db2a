"""Who and what is configured: users, services, numbers, transports, prices, settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import (
    Record,
    numbers,
    prices,
    service_members,
    services,
    settings,
    transports,
    users,
)


async def find_user(conn: AsyncConnection, extension: str) -> Record | None:
    return (await conn.execute(sa.select(users).where(users.c.extension == extension))).first()


async def list_users(conn: AsyncConnection) -> list[Record]:
    return list((await conn.execute(sa.select(users).order_by(users.c.extension))).all())


async def list_transports(conn: AsyncConnection) -> list[Record]:
    return list((await conn.execute(sa.select(transports).order_by(transports.c.id))).all())


async def list_prices(conn: AsyncConnection) -> list[Record]:
    return list((await conn.execute(sa.select(prices))).all())


async def list_services(conn: AsyncConnection) -> list[Record]:
    return list((await conn.execute(sa.select(services).order_by(services.c.name))).all())


async def list_numbers(conn: AsyncConnection) -> list[Record]:
    return list((await conn.execute(sa.select(numbers).order_by(numbers.c.number))).all())


async def list_members(conn: AsyncConnection) -> list[Record]:
    query = sa.select(service_members.c.service_id, service_members.c.kind, users.c.extension).join(
        users, users.c.id == service_members.c.user_id
    )
    return list((await conn.execute(query)).all())


async def get_settings(conn: AsyncConnection) -> dict[str, Any]:
    return {r.key: r.value for r in (await conn.execute(sa.select(settings))).all()}


async def put_setting(conn: AsyncConnection, key: str, value: Any) -> bool:
    """Store one setting; True when it changed."""
    current = await conn.scalar(sa.select(settings.c.value).where(settings.c.key == key))
    if current == value:
        return False
    if current is None:
        await conn.execute(settings.insert().values(key=key, value=value))
    else:
        await conn.execute(settings.update().where(settings.c.key == key).values(value=value))
    return True


async def upsert(
    conn: AsyncConnection, table: sa.Table, key: str, row: dict[str, Any], *, ignore: Sequence[str] = ()
) -> tuple[str, Any]:
    """Insert ``row`` or update the row with the same ``key``; returns (created|updated|unchanged, id)."""
    existing = (await conn.execute(sa.select(table).where(table.c[key] == row[key]))).first()
    if existing is None:
        result = await conn.execute(table.insert().values(**row))
        pk = result.inserted_primary_key
        return "created", pk[0] if pk else row[key]
    current = existing._mapping
    changed = {k: v for k, v in row.items() if k not in ignore and current[k] != v}
    ident = current["id"] if "id" in current else row[key]
    if not changed:
        return "unchanged", ident
    changed.update({k: row[k] for k in ignore if k in row})  # e.g. updated_at moves only with a real change
    await conn.execute(table.update().where(table.c[key] == row[key]).values(**changed))
    return "updated", ident


async def replace_members(conn: AsyncConnection, service_id: int, members: dict[int, str]) -> bool:
    """Make a service's members exactly ``members`` (user id -> static|dynamic); True when changed."""
    rows = (
        await conn.execute(
            sa.select(service_members.c.user_id, service_members.c.kind).where(
                service_members.c.service_id == service_id
            )
        )
    ).all()
    if {r.user_id: r.kind for r in rows} == members:
        return False
    await conn.execute(service_members.delete().where(service_members.c.service_id == service_id))
    if members:
        await conn.execute(
            service_members.insert(),
            [{"service_id": service_id, "user_id": uid, "kind": kind} for uid, kind in members.items()],
        )
    return True


async def delete_missing(conn: AsyncConnection, table: sa.Table, key: str, keep: Sequence[Any]) -> int:
    result = await conn.execute(table.delete().where(table.c[key].not_in(list(keep))))
    return int(result.rowcount or 0)


async def list_directory_extensions(conn: AsyncConnection) -> list[str]:
    """The extensions of the users the LDAP directory sync owns."""
    query = sa.select(users.c.extension).where(users.c.directory_dn.is_not(None))
    return list((await conn.execute(query)).scalars())
