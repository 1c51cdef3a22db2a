"""`keyed_locks.KeyedLocks`: one holder per key at a time, even for a newcomer arriving after the lock passed from
its holder to a waiter; and no lock kept once nobody holds or waits."""

from __future__ import annotations

import asyncio

from parley.keyed_locks import KeyedLocks


async def test_a_newcomer_after_the_hand_over_waits_for_the_new_holder() -> None:
    locks = KeyedLocks()
    inside: list[str] = []
    most = 0
    gates = {name: asyncio.Event() for name in ("first", "second", "third")}

    async def hold(name: str) -> None:
        nonlocal most
        async with locks.one_at_a_time("k"):
            inside.append(name)
            most = max(most, len(inside))
            await gates[name].wait()
            inside.remove(name)

    first = asyncio.create_task(hold("first"))
    second = asyncio.create_task(hold("second"))
    while inside != ["first"]:
        await asyncio.sleep(0)
    gates["first"].set()
    await first  # the lock went to the second, which holds it now
    while inside != ["second"]:
        await asyncio.sleep(0)
    third = asyncio.create_task(hold("third"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert inside == ["second"]  # the third waits for it
    gates["second"].set()
    gates["third"].set()
    await asyncio.gather(second, third)
    assert most == 1
    assert not locks._locks  # nobody holds or waits: nothing kept
