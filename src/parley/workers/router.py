"""The inbound router: claims `route` jobs (stored inbound messages) and routes them into conversations.

A batch is claimed and routed in one transaction (`InboundRouter.route_next`), its messages in arrival
(id) order, so messages from the same customer to the same number are routed one after another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.logs import Failures
from parley.services.inbound import InboundRouter
from parley.store import queue
from parley.store.db import Database
from parley.waiting import woken

log = structlog.get_logger()


class RouterWorker:
    def __init__(
        self,
        db: Database,
        router: InboundRouter,
        clock: Callable[[], datetime],
        *,
        worker: str,
        batch: int = 200,
        lease: timedelta = timedelta(seconds=60),
        idle_poll: float = 0.5,
        gather: float = 0.005,
    ) -> None:
        self._db = db
        self._router = router
        self._clock = clock
        self._worker = worker
        self._batch = batch
        self._lease = lease
        self._idle_poll = idle_poll
        self._gather = gather
        self._wakeup = asyncio.Event()
        self._failures = Failures(log)

    def wake(self) -> None:
        """Route soon: a message was stored in this process (`Inbox`'s ``on_stored``), no need to wait for a poll."""
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            self._wakeup.clear()  # before claiming: a message stored while we route is not missed
            try:
                routed = await self.route_due()
            except Exception:  # the database is away, say: logged once, then counted
                self._failures.exception("router.failed")
                routed = 0
            if routed == 0:
                await woken(self._wakeup, self._idle_poll)
            elif routed < self._batch:
                # A batch costs about ten statements whatever its size: under steady load, let the next one
                # gather for a few milliseconds instead of routing one or two messages per transaction.
                await asyncio.sleep(self._gather)

    async def route_due(self) -> int:
        """Claim due route jobs and route them as one batch, in one transaction; returns how many were claimed."""
        return await self._router.route_next(self._claim)

    async def _claim(self, conn: AsyncConnection) -> list[queue.ClaimedJob]:
        return await queue.claim(
            conn, now=self._clock(), lease=self._lease, limit=self._batch, worker=self._worker, kind="route"
        )
