"""Inbound messages (MO): stored first, durably, before the peer is answered.

Conversations, routing, blocks and opt-outs (issue 3) build on the stored row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from parley.channels.base import Inbound
from parley.core.text import split
from parley.metrics import INBOUND
from parley.services.batching import GroupCommitter
from parley.store import messages
from parley.store.db import Database
from parley.store.ids import new_id


class Inbox:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock
        self._committer: GroupCommitter[dict[str, Any], None] = GroupCommitter(self._write)

    async def receive(self, transport: str, inbound: Inbound) -> str:
        now = self._clock()
        segments = split(inbound.text)
        row = {
            "id": new_id(),
            "direction": "in",
            "user_id": None,
            "sender": inbound.sender[:32],
            "recipient": inbound.to[:32],
            "body": inbound.text,
            "status": "received",
            "segments": segments.count,
            "encoding": segments.encoding.value,
            "gsm": None,
            "transport": transport,
            "error": None,
            "charge": None,
            "currency": None,
            "source": "smpp" if inbound.carrier_id is None else "carrier",
            "send_at": None,
            "created_at": inbound.received_at or now,
            "updated_at": now,
        }
        await self._committer.submit(row)
        INBOUND.labels(transport).inc()
        return str(row["id"])

    async def _write(self, rows: list[dict[str, Any]]) -> list[None]:
        async with self._db.write() as conn:
            await messages.add_all(conn, rows)
        return [None] * len(rows)

    async def close(self) -> None:
        await self._committer.close()
