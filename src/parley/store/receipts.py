"""Delivery receipts and the carrier ids they refer to.

Receipts are stored first and matched to message parts afterwards, from both sides: when a receipt
arrives, and when a submit's carrier ids are recorded. A receipt that arrives before its
submit_sm_resp has been recorded simply waits, unapplied, until the part appears (DESIGN: "match
late, never drop").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import Record, message_parts, receipts


async def add_parts(conn: AsyncConnection, parts: Sequence[dict[str, Any]]) -> None:
    """Rows of (transport, carrier_id, message_id, part)."""
    if parts:
        await conn.execute(message_parts.insert(), [{"state": None, "stat": None, "err": None, **p} for p in parts])


async def add_receipts(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(receipts.insert(), [{"applied_at": None, **r} for r in rows])


async def match(
    conn: AsyncConnection,
    *,
    now: datetime,
    carrier_ids: Sequence[str] | None = None,
    since: datetime | None = None,
) -> list[Record]:
    """Apply unapplied receipts whose part is known; return one row per applied receipt."""
    query = (
        sa.select(
            receipts.c.id,
            receipts.c.state,
            receipts.c.stat,
            receipts.c.err,
            message_parts.c.message_id,
            message_parts.c.transport,
            message_parts.c.carrier_id,
        )
        .join(
            message_parts,
            sa.and_(
                message_parts.c.transport == receipts.c.transport,
                message_parts.c.carrier_id == receipts.c.carrier_id,
            ),
        )
        .where(receipts.c.applied_at.is_(None))
        .order_by(receipts.c.id)
    )
    if carrier_ids is not None:
        query = query.where(receipts.c.carrier_id.in_(list(carrier_ids)))
    if since is not None:
        query = query.where(receipts.c.received_at >= since)
    rows = list((await conn.execute(query)).all())
    if not rows:
        return []
    await conn.execute(
        message_parts.update()
        .where(
            message_parts.c.transport == sa.bindparam("b_transport"),
            message_parts.c.carrier_id == sa.bindparam("b_carrier"),
        )
        .values(state=sa.bindparam("b_state"), stat=sa.bindparam("b_stat"), err=sa.bindparam("b_err")),
        [
            {
                "b_transport": r.transport,
                "b_carrier": r.carrier_id,
                "b_state": r.state,
                "b_stat": r.stat,
                "b_err": r.err,
            }
            for r in rows
        ],
    )
    await conn.execute(receipts.update().where(receipts.c.id.in_([r.id for r in rows])).values(applied_at=now))
    return rows


async def part_states(conn: AsyncConnection, message_ids: Sequence[str]) -> dict[str, list[str | None]]:
    query = sa.select(message_parts.c.message_id, message_parts.c.state).where(
        message_parts.c.message_id.in_(list(message_ids))
    )
    states: dict[str, list[str | None]] = {}
    for row in (await conn.execute(query)).all():
        states.setdefault(row.message_id, []).append(row.state)
    return states


async def count_unapplied(conn: AsyncConnection, since: datetime) -> int:
    query = sa.select(sa.func.count()).where(receipts.c.applied_at.is_(None), receipts.c.received_at >= since)
    return int(await conn.scalar(query) or 0)
