"""Password hashing (argon2) and a short-lived cache of successful checks.

Verifying an argon2 hash costs tens of milliseconds by design; the Wildix API sends the password on
every request. A success is remembered for ``ttl`` seconds under a keyed hash (HMAC) of the
credentials *and* the stored hash, so a changed password is never served from the cache.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from parley.settings import Settings


@cache
def _hasher() -> PasswordHasher:
    """argon2id at the cost `Settings` gives (argon2-cffi's defaults: RFC 9106's low-memory profile, 64 MiB and
    3 passes), read once. A hash carries its own parameters, so a hash made at one cost verifies at any other."""
    settings = Settings()
    return PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@cache
def dummy_hash() -> str:
    """A hash no password matches, checked for unknown users so that they cost as long as known ones."""
    return _hasher().hash(secrets.token_urlsafe(32))


class VerifiedCache:
    """Not thread-safe: used from the event loop only (argon2 itself runs in a thread, outside it)."""

    def __init__(self, secret: str = "", ttl: float = 300.0, max_entries: int = 10_000) -> None:
        self._key = secret.encode() or secrets.token_bytes(32)
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[bytes, float] = {}
        self._by_user: dict[str, tuple[str, set[bytes]]] = {}  # user -> (the hash their entries were made with, ...)

    def _digest(self, user: str, password: str, stored_hash: str) -> bytes:
        material = b"\0".join(p.encode() for p in (user, password, stored_hash))
        return hmac.new(self._key, material, hashlib.sha256).digest()

    def is_cached(self, user: str, password: str, stored_hash: str) -> bool:
        known = self._by_user.get(user)
        if known is not None and known[0] != stored_hash:
            self.forget(user)  # the password changed: none of the old successes may count again
            return False
        expires = self._entries.get(self._digest(user, password, stored_hash))
        return expires is not None and expires > time.monotonic()

    def remember(self, user: str, password: str, stored_hash: str) -> None:
        """Remember a success (checked by `verify_password`) for ``ttl`` seconds."""
        now = time.monotonic()
        if len(self._entries) >= self._max:
            self._entries = {k: v for k, v in self._entries.items() if v > now}
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._by_user = {
                u: (h, live) for u, (h, ds) in self._by_user.items() if (live := ds & self._entries.keys())
            }
        known = self._by_user.get(user)
        if known is None or known[0] != stored_hash:
            self.forget(user)
            known = self._by_user[user] = (stored_hash, set())
        digest = self._digest(user, password, stored_hash)
        self._entries[digest] = now + self._ttl
        known[1].add(digest)

    def forget(self, user: str) -> None:
        """Drop every remembered success of ``user`` (their password changed or they were removed)."""
        _, digests = self._by_user.pop(user, ("", set()))
        for digest in digests:
            self._entries.pop(digest, None)
