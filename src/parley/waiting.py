"""Waiting for a wake-up with a time limit, in a way a cancellation always ends."""

from __future__ import annotations

import asyncio


async def woken(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass; whether it was set.

    Not `asyncio.wait_for`: on Python 3.11 it returns instead of raising when the waiting task is cancelled just as
    the event is set (python/cpython#86296, fixed in 3.12). Workers are woken on every commit under load, so a
    worker told to stop at shut-down could miss it and run on, and `parley serve` would not stop on SIGTERM.
    """
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True
