"""Group commit: many concurrent callers, one transaction.

Callers `submit` an item and wait; one flusher task takes everything that arrived while the previous
flush ran and writes it in a single transaction. Under light load a batch is one item (no added
latency); under heavy load batches grow by themselves, which is what lets the accept path run close to
the database's commit rate instead of one commit per request.

``linger`` (default none) holds each flush back that long so that a steady trickle of items (inbound
messages at a few hundred a second, each a few milliseconds apart) shares transactions too: a flush costs
several statements whatever its size.

One bad item never fails the others. When a batch's transaction fails, nothing of it was written; the batch is
split in two and each half committed again, down to single items, so only the items that fail alone fail (their
callers get the exception) and the others are written in a few transactions (about 2·log2(n) for one bad item among
n; every member alone at worst). The exception is the database being unreachable or locked: retrying each member
would then only multiply the wait, so the whole batch fails at once, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy import exc as sa_exc

from parley.logs import Failures

T = TypeVar("T")
R = TypeVar("R")

_failures = Failures()


def about_the_database(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached or is locked, not that some item was refused."""
    if isinstance(exc, OSError | TimeoutError | sa_exc.OperationalError | sa_exc.InterfaceError):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


class GroupCommitter(Generic[T, R]):
    def __init__(
        self, flush: Callable[[list[T]], Awaitable[Sequence[R]]], *, max_batch: int = 1000, linger: float = 0.0
    ) -> None:
        self._flush = flush
        self._name = getattr(flush, "__qualname__", "flush")
        self._max_batch = max_batch
        self._linger = linger
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def submit(self, item: T) -> R:
        return await self.post(item)

    def post(self, item: T) -> asyncio.Future[R]:
        """Queue ``item`` without waiting: its future gets the result (or the exception) once its batch is written.
        For callers that need not wait (no task per item: `services.webhook_sender` records thousands a second)."""
        if self._closed:
            raise RuntimeError("the group committer is closed")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._wakeup.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-commit")
        return future

    async def _run(self) -> None:
        while self._pending:
            if self._linger > 0 and len(self._pending) < self._max_batch:
                await asyncio.sleep(self._linger)
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            await self._commit(batch)

    async def _commit(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        """Flush ``batch``; if it fails, commit its halves one after the other (in order), down to single items."""
        try:
            results = await self._flush([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1 or about_the_database(exc):
                for _, future in batch:  # nothing is half-written: each waiter learns of the failure
                    if not future.done():
                        future.set_exception(exc)
                return
            _failures.exception("group_commit.batch_failed", exc, flush=self._name, items=len(batch))
            half = len(batch) // 2
            await self._commit(batch[:half])
            await self._commit(batch[half:])
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
