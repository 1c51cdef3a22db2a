"""Web console sessions: sign in with extension + password, a cookie token, CSRF, throttled wrong passwords.

The token lives only in the browser's cookie; the database keeps its SHA-256, so every process (and every
host sharing PostgreSQL) recognises it and a database leak gives no usable cookie. Wrong passwords are
counted per extension and per client address, in the database too: after ``FREE_ATTEMPTS`` failures the next
attempt must wait, doubling each time up to ``MAX_WAIT`` — a right password inside the wait is refused as well.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from parley.services.auth import Authenticator
from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.store import web_sessions
from parley.store.db import Database

FREE_ATTEMPTS = 3
FIRST_WAIT = timedelta(seconds=5)
MAX_WAIT = timedelta(minutes=5)
IDLE_LIFETIME = timedelta(hours=12)
EXTEND_AFTER = timedelta(hours=1)  # write a new expiry at most this often per session


class SignInRefused(ServiceError):
    def __init__(self, reason: str, *, retry_after: int = 0) -> None:
        super().__init__(429 if retry_after else 401, reason, "password")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def wait_after(failures: int) -> timedelta:
    """How long after the last failure the next attempt is allowed."""
    if failures < FREE_ATTEMPTS:
        return timedelta(0)
    wait: timedelta = FIRST_WAIT * 2 ** min(failures - FREE_ATTEMPTS, 16)
    return min(wait, MAX_WAIT)


class Sessions:
    def __init__(
        self,
        db: Database,
        cache: DirectoryCache,
        auth: Authenticator,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._cache = cache
        self._auth = auth
        self._clock = clock

    async def sign_in(self, extension: str, password: str, address: str) -> Session:
        extension = extension.strip()
        if not extension:
            raise ServiceError(422, "enter your extension", "extension")
        if not password:
            raise ServiceError(422, "enter your password", "password")
        keys = [f"extension:{extension}", f"address:{address}"]
        now = self._clock()
        async with self._db.read() as conn:
            counters = await web_sessions.failures(conn, keys)
        for counter in counters:
            allowed_at = counter.last_at + wait_after(counter.failures)
            if allowed_at > now:
                seconds = max(1, int((allowed_at - now).total_seconds() + 0.999))
                raise SignInRefused(f"too many wrong passwords: try again in {seconds} s", retry_after=seconds)
        user = await self._auth.authenticate(extension, password)
        if user is None:
            await self._fail(keys, now)
            raise SignInRefused("wrong extension or password")
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        async with self._db.write() as conn:
            await web_sessions.clear_failures(conn, keys[:1])
            await web_sessions.delete_expired(conn, now)
            await web_sessions.create(conn, _hash(token), user.id, csrf, now=now, expires_at=now + IDLE_LIFETIME)
        return Session(user, csrf, token)

    async def _fail(self, keys: list[str], now: datetime) -> None:
        for attempt in range(2):
            try:
                async with self._db.write() as conn:
                    for key in keys:
                        await web_sessions.record_failure(conn, key, now)
                return
            except IntegrityError:  # another process counted the same key's first failure just now
                if attempt:
                    raise

    async def resolve(self, token: str | None) -> Session | None:
        """The signed-in session for a cookie token, or None (unknown, expired, or the user is gone)."""
        if not token:
            return None
        now = self._clock()
        token_hash = _hash(token)
        async with self._db.read() as conn:
            row = await web_sessions.find(conn, token_hash, now)
        if row is None:
            return None
        user = await self._cache.user(row.extension)
        if user is None or user.id != row.user_id:
            return None
        if row.expires_at - now < IDLE_LIFETIME - EXTEND_AFTER:
            async with self._db.write() as conn:
                await web_sessions.extend(conn, token_hash, now + IDLE_LIFETIME)
        return Session(user, row.csrf, token)

    async def sign_out(self, token: str) -> None:
        async with self._db.write() as conn:
            await web_sessions.delete(conn, _hash(token))
