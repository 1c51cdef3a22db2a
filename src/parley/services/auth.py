"""Who is calling: extension + password checked against the argon2 hash, with a verified-cache."""

from __future__ import annotations

import asyncio

from parley.services.directory import DirectoryCache, User
from parley.services.passwords import VerifiedCache


class Authenticator:
    def __init__(self, cache: DirectoryCache, *, secret: str = "") -> None:
        self._directory = cache
        self._verified = VerifiedCache(secret)

    async def authenticate(self, extension: str, password: str) -> User | None:
        user = await self._directory.user(extension)
        if user is None:
            return None
        if self._verified.is_cached(extension, password, user.password_hash):
            return user
        # argon2 is CPU-bound by design: keep the event loop free while it runs.
        ok = await asyncio.to_thread(self._verified.check, extension, password, user.password_hash)
        return user if ok else None
