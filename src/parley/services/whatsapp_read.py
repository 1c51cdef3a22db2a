"""Marking a customer's WhatsApp messages read at Meta when a member reads the conversation (issue 12 §6).

`request` runs inside the transaction that marks the conversation read (`Conversations.read`): it writes a queue
job of kind ``waread`` on the newest inbound WhatsApp message not yet marked, so the request is durable and costs
the member one small query, never a call to Meta. One mark-as-read with that message's wamid marks the earlier ones
too (Meta's "Mark messages as read"), so one job is enough, and a conversation whose newest message is marked (or
about to be) needs none. `WhatsAppReads.mark_due` claims the jobs, asks the channel of the message's transport, and
records the outcome: marked (a ``read`` entry in the message's status history), retried with `RetryPolicy`'s backoff
(a transport down, Meta throttling, an expired access token: nothing is lost), or given up after 24 hours (or at
once on a refusal no retry can change), with a log line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.delivery import DeliveryError, GiveUp, Rejected, RetryPolicy, TimedOut, Unreachable
from parley.logs import Failures
from parley.store import queue
from parley.store import whatsapp_reads as store
from parley.store.db import Database

log = structlog.get_logger()
failures = Failures(log)

# A transport's name -> its running channel (`Transports.channel`); a WhatsApp channel has ``mark_read(wamid)``.
Lookup = Callable[[str], object | None]
DETAIL = "marked read at WhatsApp"


async def request(conn: AsyncConnection, conversation_id: str, now: datetime) -> None:
    """Ask for the customer's WhatsApp messages in the conversation to be marked read at Meta (in the caller's
    transaction). Messages that already have a job of another kind (the primary key allows one) are passed over for
    the newest one that has none: marking it marks the earlier ones."""
    for candidate in await store.newest_inbound(conn, conversation_id):
        if candidate.marked or candidate.job_kind == store.KIND:
            return  # marked already, or about to be: and with it every earlier message
        if candidate.job_kind is None:
            await store.add_job(conn, candidate.message_id, now)
            return


class WhatsAppReads:
    def __init__(
        self,
        db: Database,
        lookup: Lookup,
        clock: Callable[[], datetime],
        *,
        worker: str,
        policy: RetryPolicy | None = None,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 20,
    ) -> None:
        self._db = db
        self._lookup = lookup
        self._clock = clock
        self._worker = worker
        self._policy = policy or RetryPolicy(give_up_after=timedelta(hours=24))
        self._lease = lease
        self._batch = batch

    async def mark_due(self) -> int:
        """Claim the due ``waread`` jobs and mark their messages read at Meta: how many were claimed."""
        async with self._db.write() as conn:
            claimed = await queue.claim(
                conn, now=self._clock(), lease=self._lease, limit=self._batch, worker=self._worker, kind=store.KIND
            )
            found = await store.to_mark(conn, [c.message_id for c in claimed])
        await asyncio.gather(*(self._mark(job, found.get(job.message_id)) for job in claimed))
        return len(claimed)

    async def _mark(self, job: queue.ClaimedJob, message: store.ToMark | None) -> None:
        if message is None or not message.wamid or not message.transport:
            async with self._db.write() as conn:
                await queue.finish(conn, [job.message_id])  # nothing Meta could mark (the message has no wamid)
            return
        try:
            await self._call(message.transport, message.wamid)
        except DeliveryError as error:
            await self._failed(job, message, error)
            return
        except Exception as exc:  # a bug, not Meta's answer: tried again later, never silently dropped
            failures.exception("whatsapp_read.unexpected", transport=message.transport)
            await self._failed(job, message, Unreachable(f"unexpected error: {type(exc).__name__}"))
            return
        async with self._db.write() as conn:
            await queue.finish(conn, [job.message_id])
            await store.record_marked(conn, job.message_id, self._clock(), DETAIL)

    async def _call(self, transport: str, wamid: str) -> None:
        channel = self._lookup(transport)
        if channel is None:
            raise Unreachable(f'the transport "{transport}" is not running')
        mark_read = getattr(channel, "mark_read", None)
        if mark_read is None:
            raise Rejected(f'the transport "{transport}" cannot mark messages read')
        try:
            # Well inside the lease, so that no other worker claims the job while this call still waits.
            async with asyncio.timeout(self._lease.total_seconds() * 0.8):
                await mark_read(wamid)
        except TimeoutError:
            raise TimedOut("WhatsApp did not answer the mark-as-read in time") from None

    async def _failed(self, job: queue.ClaimedJob, message: store.ToMark, error: DeliveryError) -> None:
        now = self._clock()
        decision = self._policy.decide(error, job.attempts, job.first_tried_at, now)
        async with self._db.write() as conn:
            if isinstance(decision, GiveUp):
                await queue.finish(conn, [job.message_id])
            else:
                await queue.retry_at(conn, [(job.message_id, decision.at)])
        if isinstance(decision, GiveUp):
            log.warning(
                "whatsapp_read.given_up", message_id=job.message_id, transport=message.transport, reason=decision.reason
            )
        else:
            log.info("whatsapp_read.retry", message_id=job.message_id, at=decision.at.isoformat(), reason=error.reason)
