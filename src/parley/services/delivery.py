"""Recording what happened to outbound messages: channel outcomes and delivery receipts.

Both arrive from many concurrent tasks and are written with group commit. A receipt is stored before
the SMPP deliver_sm_resp is sent (the channel awaits `Deliveries.receipt`), so a crash never loses one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.channels.base import Receipt
from parley.core.delivery import OPT_OUT_CODES
from parley.core.receipts import message_status
from parley.metrics import OUTCOMES, RECEIPTS
from parley.services import fallback
from parley.services.batching import GroupCommitter
from parley.store import messages, queue, receipts
from parley.store.db import Database
from parley.store.optouts import set_optout

log = structlog.get_logger()
# Seconds a group commit of outcomes or receipts waits for more to join it. A real SMSC sends each receipt alone,
# seconds after its submit: without the wait, receipts trickling in at a few hundred a second each took a
# transaction of their own (issue 15 §2); 3 ms adds little to a receipt's lag and shares each transaction.
LINGER = 0.003


@dataclass(frozen=True)
class Delivered:
    """The channel took the message."""

    message_id: str
    transport: str
    carrier_ids: tuple[str, ...]
    status: str = "sent"  # "sending" when the peer only queued it (an HTTP carrier's status callbacks follow)
    assumed: bool = False  # "delivered" without a receipt: the transport has `assume_delivered` (issue 14 §5)


@dataclass(frozen=True)
class Postponed:
    """A transient failure: try again at ``at``."""

    message_id: str
    transport: str | None
    reason: str
    at: datetime
    fault: bool = False  # an unexpected error (a bug), not the peer's answer: counts towards parking the job


@dataclass(frozen=True)
class Failed:
    """A permanent failure, or the retries ran out."""

    message_id: str
    transport: str | None
    reason: str
    code: str | None = None  # the peer's own error code (Twilio 21211, an SMPP command_status, an HTTP status)


@dataclass(frozen=True)
class InDoubt:
    """A campaign message whose worker died after submitting it: counted as sent, never sent again."""

    message_id: str
    transport: str | None


Outcome = Delivered | Postponed | Failed | InDoubt
Change = dict[str, Any]  # a message status change: id, status, and what else `messages.set_status` takes


@dataclass(frozen=True)
class _Receipt:
    transport: str
    receipt: Receipt


class Deliveries:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        on_changes: Callable[[list[tuple[str, str]]], Awaitable[None]] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._on_changes = on_changes
        self._outcomes: GroupCommitter[Outcome, None] = GroupCommitter(self._write_outcomes, linger=LINGER)
        self._receipts: GroupCommitter[_Receipt, None] = GroupCommitter(self._write_receipts, linger=LINGER)
        self._journal: GroupCommitter[str, None] = GroupCommitter(self._write_submitting)

    async def submitting(self, message_id: str) -> None:
        """Journal that a campaign message is about to reach the peer (see `Outgoing.before_submit`)."""
        await self._journal.submit(message_id)

    async def _write_submitting(self, message_ids: list[str]) -> list[None]:
        now = self._clock()
        async with self._db.write() as conn:
            await messages.mark_submitting(conn, message_ids, now=now)
        return [None] * len(message_ids)

    async def record(self, outcome: Outcome) -> None:
        await self._outcomes.submit(outcome)
        OUTCOMES.labels(outcome.transport or "-", type(outcome).__name__.lower()).inc()

    async def receipt(self, transport: str, receipt: Receipt) -> None:
        await self._receipts.submit(_Receipt(transport, receipt))
        RECEIPTS.labels(transport, receipt.state).inc()

    async def _write_outcomes(self, outcomes: list[Outcome]) -> list[None]:
        now = self._clock()
        async with self._db.write() as conn:
            changes = await self._write(conn, outcomes, now)
        await self._notify(changes)
        return [None] * len(outcomes)

    async def settle(self, conn: AsyncConnection, outcomes: Sequence[Failed | InDoubt], now: datetime) -> list[Change]:
        """Record outcomes inside the caller's transaction, not through the group commit.

        The dispatcher settles jobs this way in its claim (parked ones, campaign messages in doubt): when it is
        the outcome write that keeps failing, going through it again would never end. Hand the returned
        changes to `announce` once the transaction committed.
        """
        for o in outcomes:
            OUTCOMES.labels(o.transport or "-", type(o).__name__.lower()).inc()
        return await self._write(conn, list(outcomes), now)

    async def announce(self, changes: list[Change]) -> None:
        await self._notify(changes)

    async def _write(self, conn: AsyncConnection, outcomes: list[Outcome], now: datetime) -> list[Change]:
        changes: list[dict[str, Any]] = []
        done: list[str] = []
        retries: list[tuple[str, datetime]] = []
        parts: list[dict[str, Any]] = []
        faults: list[str] = []
        for o in outcomes:
            if isinstance(o, Delivered):
                change: dict[str, Any] = {
                    "id": o.message_id,
                    "status": o.status,
                    "transport": o.transport,
                    "error": None,
                }
                if o.assumed:
                    change |= {
                        "delivery_assumed": True,
                        "detail": "delivered (assumed): the transport gives no receipts",
                    }
                changes.append(change)
                parts += [
                    {"transport": o.transport, "carrier_id": cid, "message_id": o.message_id, "part": i}
                    for i, cid in enumerate(o.carrier_ids)
                ]
                done.append(o.message_id)
            elif isinstance(o, InDoubt):
                reason = "in doubt: the worker stopped after submitting it; not resent, so never sent twice"
                changes.append({"id": o.message_id, "status": "sent", "error": reason})
                done.append(o.message_id)
            elif isinstance(o, Postponed):
                changes.append(
                    {
                        "id": o.message_id,
                        "status": "queued",
                        "error": o.reason,
                        "detail": f"retry: {o.reason}",
                    }
                )
                retries.append((o.message_id, o.at))
                if o.fault:
                    faults.append(o.message_id)
            else:
                change = {"id": o.message_id, "status": "failed", "transport": o.transport, "error": o.reason}
                if o.code is not None:
                    change["error_code"] = o.code[:32]
                changes.append(change)
                done.append(o.message_id)
        failed = {o.message_id: (o.reason, o.code) for o in outcomes if isinstance(o, Failed)}
        rerouted: list[Change] = []
        if failed:  # WhatsApp first, then SMS: what WhatsApp refused goes on as SMS instead of failing
            found = await messages.get_many(conn, list(failed))
            rerouted = await fallback.to_sms(conn, list(found.values()), failed, now)
            gone = {c["id"] for c in rerouted}
            changes = [c for c in changes if c["id"] not in gone]
            done = [d for d in done if d not in gone]
        await messages.set_status(conn, changes, now=now)
        await queue.finish(conn, done)
        await queue.retry_at(conn, retries)
        await queue.note_faults(conn, faults)
        waiting = await receipts.record_parts(conn, parts, now=now)  # receipts that raced their submit
        await self._opt_out(conn, {c["id"]: c.get("error_code") for c in changes}, now)
        changes += rerouted
        changes += await self._apply(conn, now, waiting)
        return changes

    async def _write_receipts(self, items: list[_Receipt]) -> list[None]:
        now = self._clock()
        rows: list[dict[str, Any]] = [
            {
                "transport": i.transport,
                "carrier_id": i.receipt.carrier_id,
                "state": i.receipt.state,
                "stat": i.receipt.stat[:16],
                "err": i.receipt.err[:16],
                "detail": i.receipt.detail[:500] or None,
            }
            for i in items
        ]
        async with self._db.write() as conn:
            changes = await self._apply(conn, now, await receipts.receive(conn, rows, now=now))
        await self._notify(changes)
        return [None] * len(items)

    async def sweep(self, *, window: timedelta = 2 * receipts.RACE) -> int:
        """Apply receipts that raced their submit's recording (both committed without seeing the other), and
        settle those that waited long enough for a part that never came (see `receipts.match`)."""
        now = self._clock()
        async with self._db.read() as conn:
            if not await receipts.count_unapplied(conn, now - window):
                return 0
        async with self._db.write() as conn:
            matched = await receipts.match(conn, now=now, since=now - window)
            changes = await self._apply(conn, now, matched)
        await self._notify(changes)
        return len(matched.applied)

    async def _notify(self, changes: list[dict[str, Any]]) -> None:
        """After the commit: tell whoever watches (conversation participants) which statuses changed."""
        if self._on_changes is not None and changes:
            try:
                await self._on_changes([(c["id"], c["status"]) for c in changes])
            except Exception:  # a live-update failure must never fail the recording
                log.exception("delivery.notify_failed")

    async def _apply(self, conn: Any, now: datetime, matches: receipts.Matches) -> list[dict[str, Any]]:
        """Message statuses from newly matched receipts; returns the changes made."""
        matched, current, states = matches.applied, matches.messages, matches.part_states
        if not matched:
            return []
        ids: list[str] = list(dict.fromkeys(str(r.message_id) for r in matched))
        detail = {r.message_id: f"stat={r.stat} err={r.err}" + (f": {r.detail}" if r.detail else "") for r in matched}
        codes = {r.message_id: r.err for r in matched if r.err and r.state in ("failed", "undelivered")}
        changes: list[dict[str, Any]] = []
        why: dict[str, tuple[str, str | None]] = {}
        for mid in ids:
            row = current.get(mid)
            new = message_status(row.status, states.get(mid, [])) if row is not None else None
            if new in ("failed", "undelivered") and fallback.wants_sms(row):
                why[mid] = (f"the provider reported {detail[mid]}", codes.get(mid))
                continue
            if new is not None:
                change: dict[str, Any] = {"id": mid, "status": new, "detail": detail[mid]}
                if new in ("failed", "undelivered"):
                    change["error"] = f"carrier reported {detail[mid]}"
                    if mid in codes:
                        change["error_code"] = codes[mid][:32]
                changes.append(change)
        await messages.set_status(conn, changes, now=now)
        await self._opt_out(conn, {c["id"]: c.get("error_code") for c in changes}, now, rows=current)
        if why:
            changes += await fallback.to_sms(conn, [current[m] for m in why], why, now)
        return changes

    async def fall_back_overdue(self) -> int:
        """WhatsApp messages not delivered by their ``fallback_at`` go as SMS (run periodically by workers)."""
        now = self._clock()
        async with self._db.read() as conn:
            late = await fallback.overdue(conn, now)
        if not late:
            return 0
        async with self._db.write() as conn:
            changes = await fallback.to_sms(conn, late, {r.id: (fallback.late_reason(r), None) for r in late}, now)
        await self._notify(changes)
        return len(changes)

    async def _opt_out(
        self, conn: AsyncConnection, codes: dict[str, str | None], now: datetime, *, rows: dict[str, Any] | None = None
    ) -> None:
        """A provider saying the recipient replied STOP (Twilio 21610) opts the number out, as the customer's
        own STOP does: later sends from that company number to it are refused."""
        stopped = [mid for mid, code in codes.items() if code in OPT_OUT_CODES]
        if not stopped:
            return
        found = rows if rows is not None else await messages.get_many(conn, stopped)
        for mid in stopped:
            row = found.get(mid)
            if row is not None and row.direction == "out":
                keyword = f"carrier {codes[mid]}"
                await set_optout(conn, row.sender, row.recipient, opted_out=True, keyword=keyword, now=now)
                log.info("delivery.opted_out", message=mid, code=codes[mid])

    async def close(self) -> None:
        await self._outcomes.close()
        await self._receipts.close()
        await self._journal.close()
