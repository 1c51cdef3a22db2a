"""What the admin console reads and writes beyond provisioning's upserts: pages of rows, single rows, deletes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import Record, bots, numbers, service_members, services, transports, users


async def page(
    conn: AsyncConnection, table: sa.Table, order: str, *, offset: int, limit: int
) -> tuple[list[Record], int]:
    """One page of ``table`` ordered by ``order``, and how many rows there are in all."""
    total = int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
    query = sa.select(table).order_by(table.c[order]).offset(offset).limit(limit)
    return list((await conn.execute(query)).all()), total


async def find(conn: AsyncConnection, table: sa.Table, key: str, value: Any) -> Record | None:
    return (await conn.execute(sa.select(table).where(table.c[key] == value))).first()


async def delete(conn: AsyncConnection, table: sa.Table, key: str, value: Any) -> bool:
    """Delete the row whose ``key`` is ``value``; False when there was none."""
    result = await conn.execute(table.delete().where(table.c[key] == value))
    return bool(result.rowcount)


async def update(conn: AsyncConnection, table: sa.Table, key: str, value: Any, row: dict[str, Any]) -> None:
    await conn.execute(table.update().where(table.c[key] == value).values(**row))


async def insert(conn: AsyncConnection, table: sa.Table, row: dict[str, Any]) -> None:
    await conn.execute(table.insert().values(**row))


async def extensions(conn: AsyncConnection) -> dict[str, int]:
    """Every user's extension and id (what service members and routing may name)."""
    return {r.extension: r.id for r in (await conn.execute(sa.select(users.c.extension, users.c.id))).all()}


async def user_names(conn: AsyncConnection) -> list[tuple[str, str]]:
    """(extension, name) of every user, for pickers."""
    query = sa.select(users.c.extension, users.c.name).order_by(users.c.extension)
    return [(r.extension, r.name) for r in (await conn.execute(query)).all()]


async def service_names(conn: AsyncConnection) -> list[str]:
    return list((await conn.execute(sa.select(services.c.name).order_by(services.c.name))).scalars())


async def bot_names(conn: AsyncConnection) -> list[str]:
    return list((await conn.execute(sa.select(bots.c.name).order_by(bots.c.name))).scalars())


async def members_of(conn: AsyncConnection, service_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    """Per service id: {"static": [extensions], "dynamic": [extensions]}."""
    query = (
        sa.select(service_members.c.service_id, service_members.c.kind, users.c.extension)
        .join(users, users.c.id == service_members.c.user_id)
        .where(service_members.c.service_id.in_(service_ids))
        .order_by(users.c.extension)
    )
    found: dict[int, dict[str, list[str]]] = {i: {"static": [], "dynamic": []} for i in service_ids}
    for row in (await conn.execute(query)).all():
        found[row.service_id][row.kind].append(row.extension)
    return found


async def linked_service_names(conn: AsyncConnection, service_ids: list[int]) -> dict[int, str]:
    query = sa.select(services.c.id, services.c.name).where(services.c.id.in_(service_ids))
    return {r.id: r.name for r in (await conn.execute(query)).all()}


async def configs(conn: AsyncConnection) -> list[tuple[str, Any]]:
    """The conversation settings of every number and service, named (to find what refers to a bot)."""
    rows = [(f"number {r.number}", r.config) for r in await conn.execute(sa.select(numbers.c.number, numbers.c.config))]
    rows += [(f"service {r.name}", r.config) for r in await conn.execute(sa.select(services.c.name, services.c.config))]
    return [(name, config) for name, config in rows if config]


async def curl_transport(conn: AsyncConnection) -> str | None:
    """The name of the one curl SMS server, if there is one."""
    return await conn.scalar(sa.select(transports.c.name).where(transports.c.role == "curl"))


async def gateway_owner(conn: AsyncConnection, gateway_id: str) -> str | None:
    return await conn.scalar(sa.select(transports.c.name).where(transports.c.gateway_id == gateway_id))
