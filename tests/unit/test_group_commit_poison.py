"""GroupCommitter: one item the database refuses fails alone; the rest of its batch is written (issue 9 §1)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from parley.services.batching import GroupCommitter


class Store:
    """A flush that refuses, whole, any batch holding a "bad" item (as one transaction does)."""

    def __init__(self, error: Exception | None = None, on_refused: Callable[[], None] = lambda: None) -> None:
        self.error = error
        self.on_refused = on_refused
        self.committed: list[str] = []
        self.flushes = 0

    async def flush(self, items: list[str]) -> list[str]:
        self.flushes += 1
        await asyncio.sleep(0)
        if any(i.startswith("bad") for i in items):
            self.on_refused()
            raise self.error or ValueError(f"refused: {[i for i in items if i.startswith('bad')]}")
        self.committed += items
        return [i.upper() for i in items]


async def _submit_together(committer: GroupCommitter[str, str], items: list[str]) -> list[str | BaseException]:
    """Submit every item before the flusher runs, so they share one batch."""
    tasks = [asyncio.ensure_future(committer.submit(i)) for i in items]
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_one_bad_item_among_twenty_good_ones_fails_alone_and_the_twenty_are_written_in_order() -> None:
    store = Store()
    committer: GroupCommitter[str, str] = GroupCommitter(store.flush)
    good = [f"good{i}" for i in range(20)]
    items = [*good[:7], "bad", *good[7:]]
    results = await _submit_together(committer, items)
    assert [r for r in results if isinstance(r, BaseException)] == [results[7]]
    assert str(results[7]) == "refused: ['bad']"
    assert [r for r in results if not isinstance(r, BaseException)] == [g.upper() for g in good]
    assert store.committed == good  # arrival order kept (the inbox relies on it)
    assert store.flushes <= 12  # split in halves: a few transactions, not one per item
    await committer.close()


async def test_several_bad_items_each_fail_alone() -> None:
    store = Store()
    committer: GroupCommitter[str, str] = GroupCommitter(store.flush)
    items = [f"bad{i}" if i % 5 == 0 else f"good{i}" for i in range(30)]
    results = await _submit_together(committer, items)
    failed = [i for i, r in zip(items, results, strict=True) if isinstance(r, BaseException)]
    assert failed == [i for i in items if i.startswith("bad")]
    assert store.committed == [i for i in items if i.startswith("good")]
    await committer.close()


@pytest.mark.parametrize(
    "error", [ConnectionRefusedError("database down"), TimeoutError("connect timed out")], ids=["refused", "timeout"]
)
async def test_when_the_database_is_unreachable_the_batch_fails_at_once_without_retrying_each(
    error: Exception,
) -> None:
    store = Store(error)
    committer: GroupCommitter[str, str] = GroupCommitter(store.flush)
    results = await _submit_together(committer, ["bad", *[f"good{i}" for i in range(9)]])
    assert all(r is error for r in results)
    assert store.flushes == 1
    await committer.close()


async def test_items_submitted_while_a_poisoned_batch_is_retried_are_written_afterwards() -> None:
    later: list[asyncio.Future[str]] = []

    def submit_another() -> None:
        if not later:
            later.append(asyncio.ensure_future(committer.submit("good2")))

    store = Store(on_refused=submit_another)
    committer: GroupCommitter[str, str] = GroupCommitter(store.flush)
    results = await _submit_together(committer, ["good0", "bad", "good1"])
    assert [isinstance(r, BaseException) for r in results] == [False, True, False]
    assert await later[0] == "GOOD2"
    assert store.committed == ["good0", "good1", "good2"]
    await committer.close()
