"""Password throttling, one mechanism for every ingress: the console, HTTP Basic (/api/v1, /api/v2), Mail2SMS.

The rules are pure (`core.throttling`); the counters live in the database (`sign_in_failures`), so every
process and host sees the same ones. Keys are hashes of what they count: an extension of any length (or
any bytes) fits the column, and the table holds no list of who was tried.

A verdict is remembered in this process for ``memo_seconds``: a request whose credentials are already
verified costs no query, and a failure here forgets the memo at once. Another process's failures are
seen within that second.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime

from parley.core.throttling import FORGET_AFTER, Counter, Verdict, judge
from parley.store import sign_in_failures as counters
from parley.store.db import Database

MAX_MEMO = 10_000
SWEEP_SECONDS = 60.0


class Throttled(Exception):
    """Too many wrong passwords: try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many wrong passwords: try again in {retry_after} s")
        self.retry_after = retry_after


def _key(kind: str, *parts: str) -> str:
    material = "\0".join(parts).encode("utf-8", "backslashreplace")
    return f"{kind}:{hashlib.sha256(material).hexdigest()[:48]}"


def keys(subject: str, address: str) -> dict[str, str]:
    """The counter keys of one attempt by kind (see `core.throttling`)."""
    return {
        "pair": _key("pair", subject, address),
        "address": _key("address", address),
        "subject": _key("subject", subject),
    }


class Throttle:
    def __init__(self, db: Database, clock: Callable[[], datetime], *, memo_seconds: float = 1.0) -> None:
        self._db = db
        self._clock = clock
        self._memo_seconds = memo_seconds
        self._memo: dict[tuple[str, str], tuple[float, Verdict]] = {}
        self._next_sweep = 0.0

    async def admit(self, subject: str, address: str) -> Verdict:
        """The verdict for one attempt; raises `Throttled` inside a refusing wait."""
        now = self._clock()
        memo = self._memo.get((subject, address))
        if memo is not None and memo[0] > time.monotonic():
            verdict = memo[1]
        else:
            by_key = {key: kind for kind, key in keys(subject, address).items()}
            async with self._db.read() as conn:
                rows = await counters.list_live(conn, list(by_key), now - FORGET_AFTER)
            verdict = judge((Counter(by_key[r.key], r.failures, r.last_at) for r in rows), now)
            if len(self._memo) >= MAX_MEMO:
                self._memo.clear()
            self._memo[(subject, address)] = (time.monotonic() + self._memo_seconds, verdict)
        if verdict.refused_until is not None and verdict.refused_until > now:
            raise Throttled(verdict.retry_after(now))
        return verdict

    async def failed(self, subject: str, address: str) -> None:
        self._memo.pop((subject, address), None)
        now = self._clock()
        async with self._db.write() as conn:
            await counters.record(conn, list(keys(subject, address).values()), now, now - FORGET_AFTER)
            if time.monotonic() >= self._next_sweep:
                self._next_sweep = time.monotonic() + SWEEP_SECONDS
                await counters.forget_stale(conn, now - FORGET_AFTER)

    async def succeeded(self, subject: str, address: str) -> None:
        """A right password forgives this pair's failures (not the address's: it may be guessing others)."""
        self._memo.pop((subject, address), None)
        async with self._db.write() as conn:
            await counters.clear(conn, [keys(subject, address)["pair"]])
