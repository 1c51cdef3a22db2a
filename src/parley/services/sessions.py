"""Web console sessions: sign in with extension + password, a cookie token, CSRF.

The token lives only in the browser's cookie; the database keeps its SHA-256, so every process (and every
host sharing PostgreSQL) recognises it and a database leak gives no usable cookie. Wrong passwords are
throttled by `Authenticator` (`services.throttle`), the same way as HTTP Basic and Mail2SMS. A session
remembers a stamp of the password it was opened with: once the password changes — by the console, by
`parley apply`, on any host — the sessions opened with the old one end.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from parley.services.auth import Authenticator, Throttled
from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.store import web_sessions
from parley.store.db import Database

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


def password_stamp(password_hash: str) -> str:
    """Changes whenever the password does; reveals nothing of it."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


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
        try:
            user = await self._auth.authenticate(extension, password, address)
        except Throttled as exc:
            raise SignInRefused(str(exc), retry_after=exc.retry_after) from None
        if user is None:
            raise SignInRefused("wrong extension or password")
        now = self._clock()
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        async with self._db.write() as conn:
            await web_sessions.delete_expired(conn, now)
            await web_sessions.create(
                conn,
                _hash(token),
                user.id,
                csrf,
                password_stamp(user.password_hash),
                now=now,
                expires_at=now + IDLE_LIFETIME,
            )
        return Session(user, csrf, token)

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
        if row.password_stamp != password_stamp(user.password_hash):
            async with self._db.write() as conn:  # opened with a password that is no longer the user's
                await web_sessions.delete(conn, token_hash)
            return None
        if row.expires_at - now < IDLE_LIFETIME - EXTEND_AFTER:
            async with self._db.write() as conn:
                await web_sessions.extend(conn, token_hash, now + IDLE_LIFETIME)
        return Session(user, row.csrf, token)

    async def keep(self, session: Session) -> None:
        """Keep ``session`` (the one that changed its user's own password) across the change."""
        user = await self._cache.user(session.user.extension)
        if user is not None:
            async with self._db.write() as conn:
                await web_sessions.restamp(conn, _hash(session.token), password_stamp(user.password_hash))

    async def sign_out(self, token: str) -> None:
        async with self._db.write() as conn:
            await web_sessions.delete(conn, _hash(token))
