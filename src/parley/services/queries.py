"""Read-side use cases for messages (lists, details)."""

from __future__ import annotations

from parley.store import messages
from parley.store.db import Database
from parley.store.messages import MessageFilter
from parley.store.tables import Record


class Messages:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list_(self, f: MessageFilter) -> list[Record]:
        async with self._db.read() as conn:
            return await messages.list_(conn, f)

    async def get(self, message_id: str) -> tuple[Record, list[messages.StatusChange]] | None:
        async with self._db.read() as conn:
            row = await messages.find(conn, message_id)
            if row is None:
                return None
            return row, await messages.history(conn, row)
