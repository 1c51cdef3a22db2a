"""The dispatcher: claims due jobs, hands each message to its channel, records the outcome.

Many messages are in flight at once (the SMPP window does the pacing); leases of in-flight jobs are
renewed while they wait so that only a dead worker's jobs are taken over by another. The lease is short
(15 s by default, renewed every 3 s), so a worker killed with thousands of messages claimed holds them up
for seconds, not a minute; a worker that stops releases what it holds at once. A job whose tries keep
ending without an outcome (its worker dies with it, its outcome cannot be written, the channel raises
something unexpected) is parked — failed with the reason — after `max_faults` such tries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog

from parley.channels.base import MediaRef, Outgoing, Sent
from parley.channels.whatsapp import Template, WhatsAppChannel
from parley.core.delivery import DeliveryError, GiveUp, Rejected, RetryPolicy, TimedOut, Unreachable
from parley.core.links import link_refusal
from parley.core.text import Encoding
from parley.core.whatsapp_rules import TemplateSpec
from parley.logs import Failures
from parley.services.delivery import Delivered, Deliveries, Failed, InDoubt, Outcome, Postponed
from parley.services.directory import WhatsAppNumber
from parley.services.transports import Transports
from parley.store import messages, queue
from parley.store.db import Database
from parley.store.tables import Record
from parley.waiting import woken

log = structlog.get_logger()
failures = Failures(log)  # a failure that repeats in a loop: its traceback once, then counts


class Dispatcher:
    def __init__(
        self,
        db: Database,
        transports: Transports,
        deliveries: Deliveries,
        clock: Callable[[], datetime],
        *,
        worker: str,
        policy: RetryPolicy | None = None,
        claim_batch: int = 200,
        max_in_flight: int = 2000,
        lease: timedelta = timedelta(seconds=15),
        idle_poll: float = 0.5,
        max_faults: int = 3,
        carriers: Callable[[], Awaitable[dict[str, str]]] | None = None,
        media: Callable[[str], Awaitable[tuple[MediaRef, ...]]] | None = None,
        whatsapp: Callable[[], Awaitable[dict[str, WhatsAppNumber]]] | None = None,
        own_links: str = "",
    ) -> None:
        self._db = db
        self._transports = transports
        self._deliveries = deliveries
        self._clock = clock
        self._worker = worker
        self._policy = policy or RetryPolicy()
        self._claim_batch = claim_batch
        self._max_in_flight = max_in_flight
        self._lease = lease
        self._idle_poll = idle_poll
        self._max_faults = max_faults
        self._carriers = carriers  # company number -> the transport that serves it
        self._media = media  # an MMS's attachments as the carrier fetches them (signed URLs)
        self._whatsapp = whatsapp  # company number -> its WhatsApp transport
        self._own_links = own_links  # PARLEY_PUBLIC_URL/r/: reply links are not links a transport refuses
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wakeup = asyncio.Event()
        self._room = asyncio.Event()

    def wake(self) -> None:
        """New work was enqueued by this process: look now instead of at the next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        heartbeat = asyncio.create_task(self._renew_leases(), name="lease-renewal")
        try:
            while True:
                claimed = await self.claim_and_send()
                if claimed == 0:
                    await woken(self._wakeup, self._idle_poll)
                    self._wakeup.clear()
                elif len(self._in_flight) >= self._max_in_flight:
                    self._room.clear()
                    await self._room.wait()
        finally:
            held = list(self._in_flight)
            heartbeat.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(heartbeat, *self._tasks, return_exceptions=True)
            await self._release(held)

    async def _release(self, held: list[str]) -> None:
        """A stopping worker gives back what it holds, so another takes it over now, not when leases run out."""
        if not held:
            return
        try:
            async with self._db.write() as conn:
                await queue.release(conn, held, worker=self._worker)
        except Exception:  # best effort: the leases run out all the same
            failures.exception("dispatch.release_failed", jobs=len(held))

    async def claim_and_send(self) -> int:
        room = min(self._claim_batch, self._max_in_flight - len(self._in_flight))
        if room <= 0:
            return 0
        now = self._clock()
        async with self._db.write() as conn:
            claimed = await queue.claim(conn, now=now, lease=self._lease, limit=room, worker=self._worker)
            # A renewal that came after the lease ran out (a starved event loop) lets this worker claim its own
            # jobs again: they are being sent already, and sending them again would text each customer twice. The
            # claim renewed their leases, and is not counted as a try or a fault of theirs.
            jobs = [j for j in claimed if j.message_id not in self._in_flight]
            if len(jobs) < len(claimed):
                own = [j.message_id for j in claimed if j.message_id in self._in_flight]
                await queue.recount_own(conn, own, worker=self._worker)
            if not jobs:
                return 0
            rows = await messages.get_many(conn, [j.message_id for j in jobs])
            settled = [s for j in jobs if (s := self._settle(j, rows.get(j.message_id))) is not None]
            changes = await self._deliveries.settle(conn, settled, now)
            done = {s.message_id for s in settled}
            await messages.set_status(
                conn, [{"id": j.message_id, "status": "sending"} for j in jobs if j.message_id not in done], now=now
            )
        await self._deliveries.announce(changes)
        for job in jobs:
            row = rows.get(job.message_id)
            if row is None or job.message_id in done:  # deleted meanwhile (the job went with it), or settled
                continue
            self._in_flight.add(job.message_id)
            task = asyncio.create_task(self._send_one(row, job.attempts, job.first_tried_at))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(jobs)

    def _settle(self, job: queue.ClaimedJob, row: Record | None) -> Failed | InDoubt | None:
        """An outcome decided at claim time, without sending: a campaign message in doubt, or a parked job."""
        if row is None:
            return None
        if _in_doubt(row, job.attempts):
            return InDoubt(job.message_id, row.transport)
        if job.faults >= self._max_faults:
            last = f"; last error: {row.error}" if row.error else ""
            reason = f"parked after {job.faults} tries that ended without an outcome or with an unexpected error{last}"
            log.warning("dispatch.parked", message=job.message_id, faults=job.faults, last_error=row.error)
            return Failed(job.message_id, row.transport, reason)
        return None

    async def _send_one(self, row: Record, attempts: int, first_tried: datetime) -> None:
        message_id: str = row.id
        outcome: Outcome
        transport: str | None = None
        submitted = False  # a campaign message journalled as on its way to the peer
        try:
            journal = None
            if row.campaign_id is not None:

                async def journal() -> None:
                    nonlocal submitted
                    await self._deliveries.submitting(message_id)
                    submitted = True

            if row.channel == "whatsapp":
                transport, whatsapp = await self._whatsapp_channel(row)
                sent = await self._send_whatsapp(row, whatsapp, journal)
            else:
                mms = row.channel == "mms"
                carrier = (await self._carriers()).get(row.sender) if self._carriers is not None else None
                transport, channel = self._transports.choose(message_id, row.gsm, carrier=carrier, mms=mms)
                refusal = link_refusal(row.body, transport, self._transports.options(transport), self._own_links)
                if refusal is not None:  # issue 14 §4: judged at send time too; settings may change meanwhile
                    raise Rejected(refusal)
                media = await self._media(message_id) if mms and self._media is not None else ()
                sent = await channel.send(
                    Outgoing(id=message_id, sender=row.sender, to=row.recipient, text=row.body,
                             encoding=Encoding(row.encoding), media=media, before_submit=journal)
                )  # fmt: skip
            outcome = Delivered(message_id, transport, sent.carrier_ids, sent.status)
            if sent.status == "sent" and self._transports.options(transport).get("assume_delivered") is True:
                # Issue 14 §5: a transport without receipts may count what it took as delivered (seed 001).
                outcome = Delivered(message_id, transport, sent.carrier_ids, "delivered", assumed=True)
        except DeliveryError as exc:
            decision = self._policy.decide(exc, attempts, first_tried, self._clock())
            if submitted and isinstance(exc, Unreachable | TimedOut):
                # The bytes went out and no answer came back: the peer may have it. Not resent.
                outcome = InDoubt(message_id, transport)
            elif isinstance(decision, GiveUp):
                outcome = Failed(message_id, transport, decision.reason, getattr(exc, "code", None))
            else:
                outcome = Postponed(message_id, transport, exc.reason, decision.at)
            log.info(
                "dispatch.failed",
                message=message_id,
                transport=transport,
                reason=exc.reason,
                retry=not isinstance(decision, GiveUp),
            )
        except Exception as exc:  # a bug in a channel must not lose the message: retry later
            failures.exception("dispatch.error", message=message_id, transport=transport)
            at = self._clock() + self._policy.delay(attempts)
            outcome = Postponed(message_id, transport, f"internal error: {exc}", at, fault=True)
        try:
            await self._deliveries.record(outcome)
        except Exception:  # the lease runs out and another claim retries the message
            failures.exception("dispatch.record_failed", message=message_id)
        finally:
            self._in_flight.discard(message_id)
            self._room.set()

    async def _whatsapp_channel(self, row: Record) -> tuple[str, WhatsAppChannel]:
        """The WhatsApp transport serving the message's company number, and its channel."""
        numbers = await self._whatsapp() if self._whatsapp is not None else {}
        number = numbers.get(row.sender)
        if number is None:
            raise Rejected(f"{row.sender} is no longer on WhatsApp (no whatsapp = true or no WhatsApp transport)",
                           code="channel")  # fmt: skip
        channel = self._transports.channel(number.transport)
        if not isinstance(channel, WhatsAppChannel):
            raise Unreachable(f'the WhatsApp transport "{number.transport}" is not running in this worker')
        return number.transport, channel

    async def _send_whatsapp(
        self, row: Record, channel: WhatsAppChannel, journal: Callable[[], Awaitable[None]] | None
    ) -> Sent:
        """A WhatsApp message: a template (its header file attached to the message), or a text or one file."""
        media = await self._media(row.id) if self._media is not None else ()
        if row.template is None:
            return await channel.send(
                Outgoing(id=row.id, sender=row.sender, to=row.recipient, text=row.body,
                         encoding=Encoding(row.encoding), media=media, before_submit=journal)
            )  # fmt: skip
        spec = TemplateSpec.from_doc(row.template)
        template = Template(spec.name, spec.language, spec.variables, media[0] if media else None)
        if journal is not None:
            await journal()
        return await channel.send_template(row.recipient, template, message_id=row.id)

    async def _renew_leases(self) -> None:
        # Renewed five times per lease: a renewal or two may fail (a busy database) before a lease runs out.
        interval = self._lease.total_seconds() / 5
        while True:
            await asyncio.sleep(interval)
            try:
                await self.renew_leases()
            except Exception:
                failures.exception("dispatch.lease_renewal_failed")

    async def renew_leases(self) -> None:
        """Extend the leases of every message this worker has in flight."""
        if self._in_flight:
            async with self._db.write() as conn:
                await queue.renew(conn, list(self._in_flight), until=self._clock() + self._lease, worker=self._worker)


def _in_doubt(row: Record | None, attempts: int) -> bool:
    """A campaign message a dead worker had journalled as submitted: it may have reached the peer."""
    return row is not None and attempts > 1 and row.campaign_id is not None and row.status == "submitting"
