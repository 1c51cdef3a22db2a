"""The campaign blocklist: added by hand or by a customer's opt-out; admins remove entries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from parley.core.numbers import InvalidNumber, parse_e164
from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.store import blocklist
from parley.store.db import Database


class BlocklistError(ServiceError):
    """A blocklist request that cannot be done."""


class Blocklist:
    def __init__(self, db: Database, cache: DirectoryCache, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._cache = cache
        self._clock = clock

    async def list_(self, user: User, *, limit: int = 100, after: str | None = None) -> list[dict[str, Any]]:
        async with self._db.read() as conn:
            rows = await blocklist.list_(conn, limit=limit, after=after)
        return [
            {"number": r.number, "reason": r.reason, "added_by": r.added_by_extension, "created_at": r.created_at}
            for r in rows
        ]

    async def add(self, user: User, raw: str) -> dict[str, Any]:
        number = await self._number(raw)
        now = self._clock()
        async with self._db.write() as conn:
            await blocklist.add(conn, number, reason="manual", by=user.id, now=now)
        return {"number": number}

    async def remove(self, user: User, raw: str) -> None:
        if not user.is_admin:
            raise BlocklistError(403, "Only administrators remove numbers from the blocklist")
        number = await self._number(raw)
        async with self._db.write() as conn:
            if not await blocklist.remove(conn, number):
                raise BlocklistError(404, f"{number} is not on the blocklist")

    async def _number(self, raw: str) -> str:
        try:
            return parse_e164(raw, (await self._cache.config()).country)
        except InvalidNumber as exc:
            raise BlocklistError(422, exc.reason, "number") from None
