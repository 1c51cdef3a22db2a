"""Opt-outs: whether a customer number has opted out of a company number's messages, and by which keyword."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import Record, optouts


async def set_optout(
    conn: AsyncConnection, company_number: str, external_number: str, *, opted_out: bool, keyword: str, now: datetime
) -> None:
    key = (optouts.c.company_number == company_number, optouts.c.external_number == external_number)
    result = await conn.execute(optouts.update().where(*key).values(opted_out=opted_out, keyword=keyword, at=now))
    if not result.rowcount:
        await conn.execute(
            optouts.insert().values(
                company_number=company_number,
                external_number=external_number,
                opted_out=opted_out,
                keyword=keyword,
                at=now,
            )
        )


async def find_optout(conn: AsyncConnection, company_number: str, external_number: str) -> Record | None:
    query = sa.select(optouts).where(
        optouts.c.company_number == company_number, optouts.c.external_number == external_number
    )
    return (await conn.execute(query)).first()
