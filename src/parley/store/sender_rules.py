"""The sender-ID rules by destination country (`sender_id_rules`), read and edited by the console."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import sender_id_rules


async def list_rules(conn: AsyncConnection) -> list[Any]:
    return list((await conn.execute(sa.select(sender_id_rules).order_by(sender_id_rules.c.country))).all())


async def put_rule(conn: AsyncConnection, country: str, registered: list[str], otherwise: str) -> None:
    """Create or replace the rule for ``country``."""
    await conn.execute(sa.delete(sender_id_rules).where(sender_id_rules.c.country == country))
    await conn.execute(sa.insert(sender_id_rules).values(country=country, registered=registered, otherwise=otherwise))


async def delete_rule(conn: AsyncConnection, country: str) -> bool:
    result = await conn.execute(sa.delete(sender_id_rules).where(sender_id_rules.c.country == country))
    return bool(result.rowcount)
