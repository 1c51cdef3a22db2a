"""GroupCommitter's linger: items a few milliseconds apart share one flush."""

from __future__ import annotations

import asyncio

from parley.services.batching import GroupCommitter


async def test_items_arriving_during_the_linger_share_one_flush() -> None:
    flushed: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        flushed.append(list(items))
        return [i * 10 for i in items]

    committer: GroupCommitter[int, int] = GroupCommitter(flush, linger=0.05)
    first = asyncio.create_task(committer.submit(1))
    await asyncio.sleep(0.005)
    second = asyncio.create_task(committer.submit(2))
    assert (await first, await second) == (10, 20)
    assert flushed == [[1, 2]]
    await committer.close()


async def test_without_linger_a_lone_item_is_flushed_at_once() -> None:
    flushed: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        flushed.append(list(items))
        return items

    committer: GroupCommitter[int, int] = GroupCommitter(flush)
    assert await committer.submit(1) == 1
    assert await committer.submit(2) == 2
    assert flushed == [[1], [2]]
    await committer.close()
