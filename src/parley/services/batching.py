"""Group commit: many concurrent callers, one transaction.

Callers `submit` an item and wait; one flusher task takes everything that arrived while the previous
flush ran and writes it in a single transaction. Under light load a batch is one item (no added
latency); under heavy load batches grow by themselves, which is what lets the accept path run close to
the database's commit rate instead of one commit per request.

``linger`` (default none) holds each flush back that long so that a steady trickle of items (inbound
messages at a few hundred a second, each a few milliseconds apart) shares transactions too: a flush costs
several statements whatever its size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommitter(Generic[T, R]):
    def __init__(
        self, flush: Callable[[list[T]], Awaitable[Sequence[R]]], *, max_batch: int = 1000, linger: float = 0.0
    ) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._linger = linger
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def submit(self, item: T) -> R:
        if self._closed:
            raise RuntimeError("the group committer is closed")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._wakeup.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-commit")
        return await future

    async def _run(self) -> None:
        while self._pending:
            if self._linger > 0 and len(self._pending) < self._max_batch:
                await asyncio.sleep(self._linger)
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            try:
                results = await self._flush([item for item, _ in batch])
            except Exception as exc:  # every waiter learns of the failure; nothing is half-written
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
