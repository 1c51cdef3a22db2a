"""The inbound router: claims `route` jobs (stored inbound messages) and routes them into conversations.

Messages from the same customer to the same number are routed one after another, in arrival order;
different conversations are routed concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from parley.services.inbound import InboundRouter
from parley.store import messages, queue
from parley.store.db import Database

log = structlog.get_logger()


class RouterWorker:
    def __init__(
        self,
        db: Database,
        router: InboundRouter,
        clock: Callable[[], datetime],
        *,
        worker: str,
        batch: int = 100,
        concurrency: int = 8,
        lease: timedelta = timedelta(seconds=60),
        idle_poll: float = 0.5,
    ) -> None:
        self._db = db
        self._router = router
        self._clock = clock
        self._worker = worker
        self._batch = batch
        self._lease = lease
        self._idle_poll = idle_poll
        self._slots = asyncio.Semaphore(concurrency)
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            try:
                routed = await self.route_due()
            except Exception:
                log.exception("router.failed")
                routed = 0
            if routed == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._idle_poll)
                self._wakeup.clear()

    async def route_due(self) -> int:
        async with self._db.write() as conn:
            jobs = await queue.claim(
                conn, now=self._clock(), lease=self._lease, limit=self._batch, worker=self._worker, kind="route"
            )
            rows = await messages.get_many(conn, [j.message_id for j in jobs])
        threads: dict[tuple[str, str], list[str]] = defaultdict(list)
        for job in sorted(jobs, key=lambda j: j.message_id):
            row = rows.get(job.message_id)
            if row is not None:
                threads[(row.recipient, row.sender)].append(job.message_id)
        await asyncio.gather(*(self._route_thread(ids) for ids in threads.values()))
        return len(jobs)

    async def _route_thread(self, message_ids: list[str]) -> None:
        async with self._slots:
            for message_id in message_ids:
                try:
                    await self._router.route(message_id)
                except Exception:  # the lease runs out and the message is routed again
                    log.exception("router.message_failed", message=message_id)
