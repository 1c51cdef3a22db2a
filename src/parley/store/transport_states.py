"""Workers' reports of their transports' connection state (`transport_states`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import Record, transport_states


async def replace(conn: AsyncConnection, worker: str, states: Sequence[dict[str, Any]], now: datetime) -> None:
    """This worker's states, replacing what it reported before (a transport it no longer runs disappears)."""
    await conn.execute(transport_states.delete().where(transport_states.c.worker == worker))
    if states:
        await conn.execute(
            transport_states.insert(),
            [
                {"transport": s["name"], "worker": worker, "state": s["state"], "last_error": s.get("last_error"),
                 "updated_at": now}
                for s in states
            ],
        )  # fmt: skip


async def fresh(conn: AsyncConnection, since: datetime) -> list[Record]:
    """Reports newer than ``since`` (older ones are from workers that stopped or died)."""
    query = sa.select(transport_states).where(transport_states.c.updated_at >= since)
    return list((await conn.execute(query.order_by(transport_states.c.transport, transport_states.c.worker))).all())
