"""One asyncio lock per key, for as long as anyone holds or waits for it.

A key's lock is dropped when nobody holds or waits for it, not merely when it is unlocked: a released
`asyncio.Lock` stays unlocked until the waiter it woke runs, and a newcomer in between that found no lock would make
a second one and run beside that waiter (a long SMPP message was sent twice so, session 13).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, list[int]]] = {}  # key: (lock, [holders and waiters])

    @contextlib.asynccontextmanager
    async def one_at_a_time(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                self._locks.pop(key, None)
