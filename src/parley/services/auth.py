"""Who is calling: extension + password checked against the argon2 hash, throttled, with a verified-cache.

Every ingress that takes a password (console sign-in, HTTP Basic on /api/v1 and /api/v2) comes through
`Authenticator.authenticate`, so they share one throttle (`services.throttle`) and one bound on argon2:

- at most ``max_checks`` argon2 checks run at once (each takes ~64 MiB and tens of milliseconds of CPU), so
  a flood of guesses queues behind that bound instead of starving the process; a password already in the
  verified-cache never waits for it;
- guesses for one (extension, address) run one after the other, each re-judged by the throttle, so firing
  many in parallel buys no more attempts than firing them in a row;
- an unknown extension costs the same argon2 check as a known one (against a dummy hash): the time of the
  answer does not tell which extensions exist;
- with `[directory] ldap_auth = true`, a user the LDAP directory owns signs in with their directory password:
  the check is a bind as their DN (issue 14 §2) instead of argon2, behind the same throttle and bound. A server
  that cannot answer refuses the sign-in without counting a failure (an outage must not throttle an office). A
  success is remembered as any other (`VerifiedCache`, five minutes): a password changed in the directory stops
  working in this process after that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from parley.keyed_locks import KeyedLocks
from parley.services.directory import DirectoryCache, User
from parley.services.passwords import VerifiedCache, dummy_hash, verify_password
from parley.services.throttle import Throttle, Throttled

__all__ = ["Authenticator", "Throttled"]

LDAP_PREFIX = "ldap:"  # in place of a hash: check the password by a bind as this DN
log = structlog.get_logger("parley.auth")


class Authenticator:
    def __init__(
        self,
        cache: DirectoryCache,
        throttle: Throttle,
        *,
        secret: str = "",
        max_checks: int = 3,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        verify: Callable[[str, str], bool] = verify_password,
        ldap_bind: Callable[[str, str], Awaitable[bool | None]] | None = None,
    ) -> None:
        self._directory = cache
        self._throttle = throttle
        self._verified = VerifiedCache(secret)
        self._checks = asyncio.Semaphore(max_checks)
        self._sleep = sleep
        self._verify = verify  # (stored hash, password): argon2, run in a thread
        self._ldap_bind = ldap_bind  # (DN, password) -> right?, None when ldap_auth is off
        self._in_flight: dict[tuple[str, str, str], asyncio.Future[bool]] = {}
        self._queues = KeyedLocks()  # one check at a time per (subject, address)

    async def authenticate(self, extension: str, password: str, address: str) -> User | None:
        """The user whose password this is, or None; raises `Throttled` while ``address`` must wait."""
        await self._throttle.admit(extension, address)
        user = await self._directory.user(extension)
        if user is None:
            stored = await asyncio.to_thread(dummy_hash)
        elif user.directory_dn and self._ldap_bind is not None and await self._ldap_auth_on():
            stored = LDAP_PREFIX + user.directory_dn
        else:
            stored = user.password_hash
        if user is not None and self._verified.is_cached(extension, password, stored):
            return user
        return user if await self._check(extension, password, stored, address, exists=user is not None) else None

    async def check_secret(self, stored_hash: str, password: str, subject: str, address: str) -> bool:
        """A shared secret (the Mail2SMS profile password), checked like a user's: throttled and bounded."""
        await self._throttle.admit(subject, address)
        if self._verified.is_cached(subject, password, stored_hash):
            return True
        return await self._check(subject, password, stored_hash, address, exists=True)

    async def _check(self, subject: str, password: str, stored_hash: str, address: str, *, exists: bool) -> bool:
        async with self._queues.one_at_a_time((subject, address)):
            verdict = await self._throttle.admit(subject, address)  # the guesses queued before this one counted
            if exists and self._verified.is_cached(subject, password, stored_hash):
                return True
            if verdict.delay:
                await self._sleep(verdict.delay.total_seconds())
            try:
                right = await self._verify_once(subject, password, stored_hash) and exists
            except DirectoryDown:
                # Not a wrong password: an outage must not throttle everyone behind the office's address.
                return False
            if right:
                await self._throttle.succeeded(subject, address)
            else:
                await self._throttle.failed(subject, address)
            return right

    async def _ldap_auth_on(self) -> bool:
        directory = (await self._directory.config()).settings.get("directory")
        return isinstance(directory, dict) and directory.get("ldap_auth") is True

    async def user(self, extension: str) -> User | None:
        """The user as the directory has them now (no password check): to re-check a long-lived request."""
        return await self._directory.user(extension)

    def forget(self, extension: str) -> None:
        """Forget the verified passwords of ``extension`` (it changed, or the user was removed)."""
        self._verified.forget(extension)

    async def _verify_once(self, extension: str, password: str, stored_hash: str) -> bool:
        """One argon2 check per credentials at a time: concurrent requests share it (64 MiB and ~0.2 s each)."""
        key = (extension, password, stored_hash)
        pending = self._in_flight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future = asyncio.ensure_future(self._bounded_check(extension, password, stored_hash))
        self._in_flight[key] = future
        try:
            return await asyncio.shield(future)
        finally:
            if future.done():
                self._in_flight.pop(key, None)
            else:
                future.add_done_callback(lambda _: self._in_flight.pop(key, None))

    async def _bounded_check(self, extension: str, password: str, stored_hash: str) -> bool:
        async with self._checks:
            bind = self._ldap_bind
            if stored_hash.startswith(LDAP_PREFIX) and bind is not None:
                right = await _bind(bind, stored_hash.removeprefix(LDAP_PREFIX), password)
            else:
                # argon2 is CPU-bound by design: keep the event loop free while it runs.
                right = await asyncio.to_thread(self._verify, stored_hash, password)
        if right:
            self._verified.remember(extension, password, stored_hash)
        return right


class DirectoryDown(Exception):
    """The LDAP directory could not check a password (down, timed out): no sign-in, and no failure counted."""


async def _bind(bind: Callable[[str, str], Awaitable[bool | None]], dn: str, password: str) -> bool:
    try:
        return await bind(dn, password) is True
    except Exception as exc:  # the directory could not say: no sign-in on a guess
        log.warning("auth.directory_unavailable", reason=str(exc))
        raise DirectoryDown() from None
