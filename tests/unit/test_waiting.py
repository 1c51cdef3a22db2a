"""`woken`: a worker's wait for a wake-up that a cancellation always ends (python/cpython#86296 on 3.11)."""

from __future__ import annotations

import asyncio

import pytest

from parley.waiting import woken


async def test_a_set_event_wakes_and_an_unset_one_times_out() -> None:
    event = asyncio.Event()
    assert await woken(event, 0.01) is False
    event.set()
    assert await woken(event, 5) is True


async def test_a_cancel_that_comes_as_the_event_is_set_still_cancels() -> None:
    event = asyncio.Event()
    waiting = asyncio.create_task(woken(event, 5))
    await asyncio.sleep(0)  # it waits now
    event.set()  # the wake-up and the stop arrive in the same turn of the loop
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
