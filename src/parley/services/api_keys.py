"""API keys (issue 13 §2): create, list, revoke, and authenticate a request made with one.

Every request made with a key costs one indexed lookup (by the SHA-256 of the secret for Bearer, by the key
SID for HTTP Basic ``SK…:secret``); nothing about keys is cached in the process, so a revoked or expired key
is refused at once by every process. The SHA-256 of a 256-bit random secret needs no slow hash: nobody can
guess a preimage, unlike a person's password. Failed attempts go through the same throttle as passwords
(`services.throttle`), counted per client address.

The last use is written at most once a minute per key (``TOUCH_EVERY``), and never twice by one process in
that time, whatever the request rate.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from parley.core import api_keys as rules
from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.services.secret_box import SecretBox
from parley.services.throttle import Throttle, Throttled
from parley.store import api_keys as store
from parley.store import media as settings_store
from parley.store.db import Database

__all__ = ["ApiKeys", "CreatedKey", "KeyCaller", "KeyExpired", "Throttled"]

TOUCH_EVERY = timedelta(minutes=1)
ACCOUNT_SID_KEY = "twilio.account_sid"  # the `settings` row holding the installation's account SID
BEARER_SUBJECT = "api-key"  # the throttle's subject for Bearer attempts (a secret names no key before lookup)
MAX_TOUCH_MEMO = 10_000


class KeyExpired(Exception):
    """The key exists and the secret is right, but its ``expires_at`` has passed."""


@dataclass(frozen=True)
class KeyCaller:
    """A request made with a key: the key, its scopes, and its owner with rights narrowed to them."""

    key_id: str
    scopes: tuple[str, ...]
    user: User

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True)
class CreatedKey:
    doc: dict[str, Any]  # as `ApiKeys.list_` shows it, plus ``secret`` (this once)
    secret: str


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return rules.SECRET_PREFIX + secrets.token_urlsafe(rules.SECRET_BYTES)


def narrowed(user: User, scopes: Sequence[str]) -> User:
    """The user as a key with ``scopes`` acts: an administrator's key without ``admin`` acts as a plain user."""
    return user if "admin" in scopes or not user.is_admin else dataclasses.replace(user, role="user")


class ApiKeys:
    def __init__(
        self, db: Database, cache: DirectoryCache, throttle: Throttle, box: SecretBox, clock: Callable[[], datetime]
    ) -> None:
        self._db = db
        self._cache = cache
        self._throttle = throttle
        self._box = box
        self._clock = clock
        self._account_sid: str | None = None
        self._touched: dict[str, float] = {}  # key id -> monotonic time of this process's last write

    async def account_sid(self) -> str:
        """The installation's account SID (``AC`` + 32 hex digits), made once and kept in `settings`."""
        if self._account_sid is None:
            async with self._db.write() as conn:
                stored = await settings_store.signing_key(conn, ACCOUNT_SID_KEY, rules.account_sid(os.urandom(16)))
            self._account_sid = stored
        return self._account_sid

    # --- managing keys ------------------------------------------------------------------------------------------

    async def create(
        self,
        creator: User,
        *,
        name: str,
        scopes: Sequence[object],
        expires_at: datetime | None = None,
        user: str | None = None,
    ) -> CreatedKey:
        name = name.strip()
        if not name:
            raise ServiceError(422, "give the key a name", "name")
        if len(name) > 200:
            raise ServiceError(422, "at most 200 characters", "name")
        try:
            chosen = rules.parse_scopes(scopes)
        except ValueError as exc:
            raise ServiceError(422, str(exc), "scopes") from None
        owner = creator
        if user is not None and user.strip() != creator.extension:
            if not creator.is_admin:
                raise ServiceError(403, "only administrators create keys for other users", "user")
            found = await self._cache.user(user.strip())
            if found is None:
                raise ServiceError(422, f"no user with extension {user.strip()!r}", "user")
            owner = found
        if "admin" in chosen and not owner.is_admin:
            raise ServiceError(422, "the admin scope is for administrators' keys", "scopes")
        now = self._clock()
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise ServiceError(422, "give a time zone (e.g. 2027-01-31T00:00:00Z)", "expires_at")
            if expires_at <= now:
                raise ServiceError(422, "must be in the future", "expires_at")
        key_id = rules.key_sid(os.urandom(16))
        secret = new_secret()
        sealed = await self._box.seal(secret, key_id)  # before the write: the box may store its key first
        async with self._db.write() as conn:
            await store.add(
                conn,
                {
                    "id": key_id,
                    "user_id": owner.id,
                    "name": name,
                    "scopes": list(chosen),
                    "secret_hash": secret_hash(secret),
                    "secret_sealed": sealed,
                    "created_by": creator.id,
                    "created_at": now,
                    "expires_at": expires_at,
                },
            )
            row = await store.find(conn, key_id)
        doc = await self._doc(row)
        doc.pop("last_used_at", None)
        return CreatedKey({**doc, "secret": secret}, secret)

    async def list_(self, viewer: User) -> list[dict[str, Any]]:
        """The viewer's keys; an administrator's list holds everyone's. Never a secret."""
        async with self._db.read() as conn:
            rows = await store.list_(conn, None if viewer.is_admin else viewer.id)
        return [await self._doc(row) for row in rows]

    async def get(self, viewer: User, key_id: str) -> dict[str, Any]:
        return await self._doc(await self._visible(viewer, key_id))

    async def revoke(self, viewer: User, key_id: str) -> None:
        """Delete the key: the next request made with it, in any process, is refused."""
        await self._visible(viewer, key_id)
        async with self._db.write() as conn:
            await store.delete(conn, key_id)

    async def _visible(self, viewer: User, key_id: str) -> Any:
        row = None
        if rules.is_key_sid(key_id):
            async with self._db.read() as conn:
                row = await store.find(conn, key_id)
        if row is None or (row.user_id != viewer.id and not viewer.is_admin):
            raise ServiceError(404, "no such API key", "id")
        return row

    async def _doc(self, row: Any) -> dict[str, Any]:
        return {
            "id": row.id,
            "name": row.name,
            "scopes": list(row.scopes),
            "expires_at": row.expires_at,
            "account_sid": await self.account_sid(),
            "user": row.extension,
            "created_at": row.created_at,
            "created_by": row.created_by,
            "last_used_at": row.last_used_at,
        }

    # --- requests made with a key -------------------------------------------------------------------------------

    async def by_secret(self, secret: str, address: str) -> KeyCaller | None:
        """The caller of ``Authorization: Bearer <secret>``, or None; raises `Throttled` (too many wrong ones from
        ``address``) or `KeyExpired`."""
        await self._throttle.admit(BEARER_SUBJECT, address)
        row = None
        if rules.could_be_secret(secret):
            async with self._db.read() as conn:
                row = await store.find_for_auth(conn, secret_hash=secret_hash(secret))
        if row is None:
            await self._throttle.failed(BEARER_SUBJECT, address)
            return None
        return await self._caller(row)

    async def by_sid(self, key_id: str, secret: str, address: str) -> KeyCaller | None:
        """The caller of HTTP Basic ``<key SID>:<secret>`` (as Twilio's clients send), or None; raises like
        `by_secret`."""
        await self._throttle.admit(key_id, address)
        row = None
        if rules.is_key_sid(key_id):
            async with self._db.read() as conn:
                row = await store.find_for_auth(conn, key_id=key_id)
        if row is None or not hmac.compare_digest(row.secret_hash, secret_hash(secret)):
            await self._throttle.failed(key_id, address)
            return None
        return await self._caller(row)

    async def _caller(self, row: Any) -> KeyCaller | None:
        now = self._clock()
        if row.expires_at is not None and row.expires_at <= now:
            raise KeyExpired(f"the API key {row.id} expired")
        user = await self._cache.user(row.extension)
        if user is None or user.id != row.user_id:
            return None
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
            await self._touch(row.id, now)
        scopes = tuple(row.scopes)
        return KeyCaller(row.id, scopes, narrowed(user, scopes))

    async def _touch(self, key_id: str, now: datetime) -> None:
        """Record the use, unless this process did so less than ``TOUCH_EVERY`` ago (other processes: the
        row's own ``last_used_at`` holds them back)."""
        last = self._touched.get(key_id)
        if last is not None and time.monotonic() - last < TOUCH_EVERY.total_seconds():
            return
        if len(self._touched) >= MAX_TOUCH_MEMO:
            self._touched.clear()
        self._touched[key_id] = time.monotonic()
        async with self._db.write() as conn:
            await store.touch(conn, key_id, now, TOUCH_EVERY)

    async def still_valid(self, caller: KeyCaller) -> bool:
        """Whether ``caller``'s key still stands (not revoked nor expired) and its owner is unchanged: to re-check
        a long-lived request (the event stream)."""
        async with self._db.read() as conn:
            row = await store.find_for_auth(conn, key_id=caller.key_id)
        if row is None or (row.expires_at is not None and row.expires_at <= self._clock()):
            return False
        user = await self._cache.user(row.extension)
        if user is None:
            return False
        now = narrowed(user, caller.scopes)  # a key outlives password changes, not a change of role
        return (now.id, now.role) == (caller.user.id, caller.user.role)

    async def signing_secret(self, key_id: str) -> str | None:
        """The key's secret, to sign what is sent on behalf of its sends (webhooks, Twilio-style callbacks); None
        when the key is gone or its sealed secret cannot be opened (``PARLEY_SECRET`` changed)."""
        async with self._db.read() as conn:
            sealed = await store.sealed_secret(conn, key_id)
        return await self._box.open(sealed, key_id)
