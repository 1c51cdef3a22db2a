"""Who is calling: extension + password checked against the argon2 hash, with a verified-cache."""

from __future__ import annotations

import asyncio

from parley.services.directory import DirectoryCache, User
from parley.services.passwords import VerifiedCache


class Authenticator:
    def __init__(self, cache: DirectoryCache, *, secret: str = "") -> None:
        self._directory = cache
        self._verified = VerifiedCache(secret)
        self._in_flight: dict[tuple[str, str, str], asyncio.Future[bool]] = {}

    async def authenticate(self, extension: str, password: str) -> User | None:
        user = await self._directory.user(extension)
        if user is None:
            return None
        if self._verified.is_cached(extension, password, user.password_hash):
            return user
        return user if await self._verify_once(extension, password, user.password_hash) else None

    async def _verify_once(self, extension: str, password: str, stored_hash: str) -> bool:
        """One argon2 check per credentials at a time: concurrent requests share it (64 MiB and ~0.2 s each)."""
        key = (extension, password, stored_hash)
        pending = self._in_flight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        # argon2 is CPU-bound by design: keep the event loop free while it runs.
        future = asyncio.ensure_future(asyncio.to_thread(self._verified.check, extension, password, stored_hash))
        self._in_flight[key] = future
        try:
            return await asyncio.shield(future)
        finally:
            if future.done():
                self._in_flight.pop(key, None)
            else:
                future.add_done_callback(lambda _: self._in_flight.pop(key, None))
