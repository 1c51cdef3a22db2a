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

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class VerifiedCache:
    def __init__(self, secret: str = "", ttl: float = 300.0, max_entries: int = 10_000) -> None:
        self._key = secret.encode() or secrets.token_bytes(32)
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[bytes, float] = {}

    def _digest(self, user: str, password: str, stored_hash: str) -> bytes:
        material = b"\0".join(p.encode() for p in (user, password, stored_hash))
        return hmac.new(self._key, material, hashlib.sha256).digest()

    def is_cached(self, user: str, password: str, stored_hash: str) -> bool:
        expires = self._entries.get(self._digest(user, password, stored_hash))
        return expires is not None and expires > time.monotonic()

    def check(self, user: str, password: str, stored_hash: str) -> bool:
        """True when the password matches ``stored_hash``; argon2 runs only on a cache miss."""
        digest = self._digest(user, password, stored_hash)
        now = time.monotonic()
        expires = self._entries.get(digest)
        if expires is not None and expires > now:
            return True
        if not verify_password(stored_hash, password):
            return False
        if len(self._entries) >= self._max:
            self._entries = {k: v for k, v in self._entries.items() if v > now}
            if len(self._entries) >= self._max:
                self._entries.clear()
        self._entries[digest] = now + self._ttl
        return True
