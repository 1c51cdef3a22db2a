"""Read-side use cases for messages (lists, details)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from parley.store import messages
from parley.store.db import Database
from parley.store.messages import MessageFilter


class Messages:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(self, f: MessageFilter) -> list[sa.Row[Any]]:
        async with self._db.read() as conn:
            return await messages.list_(conn, f)

    async def get(self, message_id: str) -> tuple[sa.Row[Any], list[sa.Row[Any]]] | None:
        async with self._db.read() as conn:
            row = await messages.find(conn, message_id)
            if row is None:
                return None
            return row, await messages.history(conn, message_id)
