"""The WhatsApp read-marker: a thin loop around `WhatsAppReads.mark_due` (services/whatsapp_read.py).

It polls: a mark-as-read may wait a second or so, and `Conversations.read` stays free of any wiring to it.
"""

from __future__ import annotations

import asyncio

import structlog

from parley.logs import Failures
from parley.services.whatsapp_read import WhatsAppReads

log = structlog.get_logger()


class WhatsAppReader:
    def __init__(self, reads: WhatsAppReads, *, idle_poll: float = 1.0) -> None:
        self._reads = reads
        self._idle_poll = idle_poll
        self._failures = Failures(log)

    async def run(self) -> None:
        while True:
            try:
                busy = await self._reads.mark_due()
            except Exception:  # the database is away, say: logged once, then counted
                self._failures.exception("whatsapp_read.failed")
                busy = 0
            if not busy:
                await asyncio.sleep(self._idle_poll)
