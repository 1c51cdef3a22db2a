"""Blocked customers: a company number's block on one customer number (not the campaigns' `blocklist`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import Record, blocks, users


async def is_blocked(conn: AsyncConnection, company_number: str, external_number: str) -> bool:
    query = sa.select(blocks.c.created_at).where(
        blocks.c.company_number == company_number, blocks.c.external_number == external_number
    )
    return (await conn.execute(query)).first() is not None


async def blocked_among(conn: AsyncConnection, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (company number, customer number) pairs are blocked (one query for a batch)."""
    if not pairs:
        return set()
    query = sa.select(blocks.c.company_number, blocks.c.external_number).where(
        blocks.c.company_number.in_(sorted({p[0] for p in pairs})),
        blocks.c.external_number.in_(sorted({p[1] for p in pairs})),
    )
    wanted = set(pairs)
    return {(r[0], r[1]) for r in (await conn.execute(query)).all() if (r[0], r[1]) in wanted}


async def block(
    conn: AsyncConnection, company_number: str, external_number: str, by: int | None, now: datetime
) -> bool:
    if await is_blocked(conn, company_number, external_number):
        return False
    await conn.execute(
        blocks.insert().values(
            company_number=company_number, external_number=external_number, created_by=by, created_at=now
        )
    )
    return True


async def unblock(conn: AsyncConnection, company_number: str, external_number: str) -> bool:
    result = await conn.execute(
        blocks.delete().where(blocks.c.company_number == company_number, blocks.c.external_number == external_number)
    )
    return bool(result.rowcount)


async def list_blocks(conn: AsyncConnection) -> list[Record]:
    query = (
        sa.select(*blocks.c, users.c.extension.label("blocked_by"))
        .outerjoin(users, users.c.id == blocks.c.created_by)
        .order_by(blocks.c.created_at.desc())
    )
    return list((await conn.execute(query)).all())
