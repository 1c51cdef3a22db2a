"""Reply links, their presence marks and the counters of posts through them (`core.reply_links`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.bulk import insert_rows
from parley.store.tables import Record, messages, reply_link_posts, reply_links


async def add_all(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    await insert_rows(conn, reply_links, rows)


async def find_by_hash(conn: AsyncConnection, token_hash: str) -> Record | None:
    return (await conn.execute(sa.select(reply_links).where(reply_links.c.token_hash == token_hash))).first()


async def set_present(conn: AsyncConnection, link_id: str, until: datetime | None) -> None:
    await conn.execute(reply_links.update().where(reply_links.c.id == link_id).values(present_until=until))


async def is_present(conn: AsyncConnection, company_number: str, customer: str, now: datetime) -> bool:
    """Whether a chat page of this customer with this company number holds its stream open now."""
    found = await conn.scalar(
        sa.select(sa.func.count()).where(
            reply_links.c.company_number == company_number,
            reply_links.c.customer == customer,
            reply_links.c.present_until > now,
        )
    )
    return bool(found)


async def thread_messages(
    conn: AsyncConnection, company_number: str, customer: str, since: datetime, limit: int
) -> list[Record]:
    """The messages between the two numbers from ``since`` (the link's message first), oldest first."""
    m = messages.c
    between = sa.or_(
        sa.and_(m.direction == "out", m.sender == company_number, m.recipient == customer),
        sa.and_(m.direction == "in", m.sender == customer, m.recipient == company_number),
    )
    query = (
        sa.select(m.id, m.direction, m.body, m.channel, m.created_at)
        .where(between, m.created_at >= since, m.status != "blocked", m.body != "")
        .order_by(m.id.desc())
        .limit(limit)
    )
    return list(reversed((await conn.execute(query)).all()))


async def find_message(conn: AsyncConnection, message_id: str) -> Record | None:
    m = messages.c
    query = sa.select(m.id, m.direction, m.body, m.channel, m.created_at).where(m.id == message_id)
    return (await conn.execute(query)).first()


async def counter(conn: AsyncConnection, key: str) -> Record | None:
    return (await conn.execute(sa.select(reply_link_posts).where(reply_link_posts.c.key == key))).first()


async def put_counter(conn: AsyncConnection, key: str, window_start: datetime, count: int, *, exists: bool) -> None:
    if exists:
        await conn.execute(
            reply_link_posts.update()
            .where(reply_link_posts.c.key == key)
            .values(window_start=window_start, count=count)
        )
    else:
        await conn.execute(reply_link_posts.insert().values(key=key, window_start=window_start, count=count))


async def forget_counters(conn: AsyncConnection, before: datetime) -> int:
    result = await conn.execute(reply_link_posts.delete().where(reply_link_posts.c.window_start < before))
    return int(result.rowcount or 0)
