"""Sending outbound webhook deliveries (issue 13 §1): claimed with leases, so any number of workers share them.

A pipeline, so that neither a slow receiver nor the database's commit rate holds the others up:

- **New deliveries are taken as they are written**, with no claim: `lease` leases to this process, in the
  transaction that writes them, those of receivers that hold fewer than ``ADOPT_DEPTH`` × ``per_target`` here
  (and of subjects none of whose deliveries wait for a claim: `services.webhook_spills`); `written` puts them in
  their lanes once committed. A claim would have written each row once more and walked the in-flight ones.
- **Claims** run while there is room, for what is left: other processes' deliveries, retries, leases run out.
  One receiver (an endpoint, or a status callback's URL) gets at most ``per_target`` requests at a time (a
  semaphore); what a claim (or a write) brings beyond that waits in this process. A
  receiver counts against the process's ``in_flight`` for what it can have in flight (its deliveries held, at most
  ``per_target``), and a claim leaves out receivers that already hold ``per_target`` and the subjects this process
  still holds: so a dead receiver (15 s per attempt) takes its ``per_target`` share and never the others'.
- **Lanes**: one receiver gets the events of one subject (a message, a conversation, a campaign: the delivery's
  ``subject``) one after the other, in the order of the events — a message's ``queued`` before its ``sent`` before
  its ``delivered`` — and different subjects concurrently. Rows written before the column existed have no subject:
  they go in order per receiver, as before.
- **Leases**: a claim leases its deliveries for ``lease`` (twice an attempt's bound). A lane does not start an
  attempt that could outlast its lease (another worker could claim it then); it gives that delivery and the rest of
  the lane back instead, to be claimed again at once.
- **Outcomes** are recorded in batches as attempts finish (`services.batching.GroupCommitter`, ``linger`` 50 ms:
  what finishes meanwhile shares the transaction; `services.webhook_outcomes.record`: a few statements per batch
  whatever its size). Nothing waits for them but the lease, and each transaction's fixed cost is most of the price.

`close` stops the lanes, records every finished attempt and gives back the deliveries it claimed and did not record
(a request cut off mid-way may have arrived: receivers de-duplicate by event id). A delivery whose outcome is never
recorded (the process died) is claimed again when its lease runs out. Anything but a 2xx is retried
(`core.webhook_events.retry_at`) for 24 hours; an endpoint failing for a day is disabled.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog

from parley.services import webhook_outcomes as outcomes
from parley.services.batching import GroupCommitter
from parley.services.webhook_outbox import Written
from parley.services.webhook_post import ATTEMPT_SECONDS, Resolver, Secrets, WebhookPoster, resolve
from parley.services.webhook_spills import Spills
from parley.store import webhooks as store
from parley.store.db import Database
from parley.waiting import woken

log = structlog.get_logger()
PER_TARGET = 16  # requests in flight to one receiver
IN_FLIGHT = 64  # requests in flight in all (the HTTP client's pool allows as many: bootstrap)
LEASE_MARGIN = 1.0  # seconds kept between an attempt's end and its lease's for recording it
ADOPT_DEPTH = 8  # new deliveries taken as written: up to this many times ``per_target`` a receiver, ``in_flight`` all

T = TypeVar("T")
Target = store.Target


@dataclass
class _Held:
    delivery: Any
    deadline: float  # monotonic time at which its lease runs out
    leased_until: datetime


@dataclass
class _Lane:
    target: Target
    queue: deque[_Held] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class WebhookSender:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        secrets: Secrets,
        *,
        resolver: Resolver = resolve,
        lease: timedelta = timedelta(seconds=30),  # twice an attempt's bound: a dead worker's claims come back soon
        batch: int = 50,
        attempt_seconds: float = ATTEMPT_SECONDS,
        per_target: int = PER_TARGET,
        in_flight: int = IN_FLIGHT,
        # Outcomes finishing within it share a transaction: nobody waits for them (a lease lasts 30 s), and a
        # recording transaction costs ~1 ms of CPU whatever its size, ~250 µs a delivery at 5 ms (issue 15).
        linger: float = 0.05,
        claim_every: float = 0.02,  # claims at most this often (what commits meanwhile comes in the same claim)
        tls: ssl.SSLContext | None = None,  # whom HTTPS receivers' certificates must chain to (default: the system's)
    ) -> None:
        self._db = db
        self._clock = clock
        self._poster = WebhookPoster(clock, secrets, resolver=resolver, attempt_seconds=attempt_seconds, tls=tls)
        self._lease = lease
        self._batch = batch
        self._attempt_seconds = attempt_seconds
        self._per_target = per_target
        self._in_flight = in_flight
        self._claim_every = claim_every
        self._wake = asyncio.Event()
        self._recorder: GroupCommitter[outcomes.Outcome, None] = GroupCommitter(
            self._record, max_batch=500, linger=linger
        )
        self._lanes: dict[tuple[Target, str | None], _Lane] = {}
        self._held: Counter[Target] = Counter()  # claimed, not yet attempted nor given back
        self._slots: dict[Target, asyncio.Semaphore] = {}  # per receiver: ``per_target`` requests at a time
        self._unrecorded: dict[int, datetime] = {}  # claimed, outcome not recorded: until when it is leased
        self._recording: set[asyncio.Future[None]] = set()
        # Set when a claim came back short while it left out full receivers, or filled the receivers it took from:
        # their backlog is all that is known to be due, and claiming again before one of them has room would only
        # walk that backlog (on every commit, under load).
        self._only_full = False
        # Whether the last claim brought anything: then more may wait (other processes' deliveries), and a lane's
        # end wakes the next claim. Otherwise lanes end without one (what this process writes it takes itself).
        self._productive = True
        self._running = False  # `run` is going: new deliveries may be leased to this process as they are written
        self._spills = Spills(horizon=2 * lease.total_seconds())

    def lease(self, rows: list[dict[str, Any]]) -> None:
        """Lease to this process, as they are written, the new delivery rows (`services.webhook_outbox`) that it
        will take itself once they are committed (`written`): a receiver's while it holds fewer than
        ``ADOPT_DEPTH`` × ``per_target`` here (all: ``ADOPT_DEPTH`` × ``in_flight``), and a subject's only while
        none of its deliveries wait for a claim (they go first). The others are left for claims."""
        if not self._running:
            return
        until = self._clock() + self._lease
        taken: Counter[Target] = Counter()
        total = sum(self._held.values())
        for row in rows:
            pair = (store.target(row["endpoint_id"], row["url"]), row["subject"])
            target = pair[0]
            if (
                pair in self._spills
                or self._held[target] + taken[target] >= self._per_target * ADOPT_DEPTH
                or total >= self._in_flight * ADOPT_DEPTH
            ):
                self._spills.left(pair)
                continue
            row["lease_until"] = until
            taken[target] += 1
            total += 1

    def written(self, written: Written) -> None:
        """After the commit of new deliveries: take those leased to this process, wake a claim for the others."""
        if written.leased and self._running:  # else their leases run out and a claim takes them
            first = written.leased[0]
            deadline = time.monotonic() + (first.lease_until - self._clock()).total_seconds()
            self._hold(written.leased, first.lease_until, deadline)
        if written.targets:
            self.wake(written.targets)

    def wake(self, targets: Collection[Target] | None = None) -> None:
        """New deliveries are due (for ``targets``, when known): a claim may find them. Deliveries for receivers
        that are full while only those are due wait for room instead (a receiver with room wakes the claims)."""
        if self._only_full and targets is not None and all(self._full(target) for target in targets):
            return
        self._wake.set()

    async def run(self) -> None:
        """Claim what is due whenever there is room, for ever; sleep until the next due delivery (at most a
        second), a wake-up (new deliveries) or a lane's end (room again)."""
        self._running = True
        while True:
            try:
                if self._has_room():
                    _, _, full = await _to_its_end(self._claim())
                    if full and self._has_room():
                        continue  # more may be due
                if self._lanes:
                    wait = 1.0  # a lane's end wakes this
                else:
                    due = await _to_its_end(self._next_due())
                    wait = 1.0 if due is None else min(1.0, max(0.05, (due - self._clock()).total_seconds()))
            except Exception:
                log.exception("webhooks.send_failed")
                wait = 1.0
            await woken(self._wake, wait)
            self._wake.clear()
            await asyncio.sleep(self._claim_every)

    async def run_once(self) -> int:
        """Claim due deliveries, attempt them and record each outcome before returning; returns how many were
        claimed (tests drive the sender with it; `run` does not wait)."""
        lanes, claimed, _ = await self._claim()
        await asyncio.gather(*(lane.task for lane in lanes if lane.task is not None))
        await self._flush()
        return claimed

    async def close(self) -> None:
        """Stop the lanes, record what was attempted, give back what was not recorded, close the client."""
        self._running = False
        lanes = [lane.task for lane in self._lanes.values() if lane.task is not None]
        for task in lanes:
            task.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
        await self._flush()
        await self._recorder.close()
        try:
            await self._give_back(dict(self._unrecorded))
        except Exception:  # their leases run out by themselves
            log.exception("webhooks.release_failed", deliveries=len(self._unrecorded))
        await self._poster.close()

    async def _next_due(self) -> datetime | None:
        async with self._db.read() as conn:
            return await store.next_due(conn)

    def _full(self, target: Target) -> bool:
        return self._held.get(target, 0) >= self._per_target

    def _load(self) -> int:
        """The requests the held deliveries can have in flight: each receiver's, up to its share."""
        return sum(min(count, self._per_target) for count in self._held.values())

    def _has_room(self) -> bool:
        """Whether a claim is worth it: nothing held, or room for half a batch (claims stay few under load)."""
        load = self._load()
        return load == 0 or self._in_flight - load >= min(self._batch, self._in_flight) // 2

    async def _claim(self) -> tuple[list[_Lane], int, bool]:
        """Claim what there is room for and start its lanes; returns the lanes started or grown, how many
        deliveries they took and whether the claim was full (more may be due)."""
        room = self._in_flight - self._load()
        if room <= 0:
            return [], 0, True
        limit = min(self._batch, room)
        full = [target for target, count in self._held.items() if count >= self._per_target]
        now = self._clock()
        async with self._db.write() as conn:
            claimed = await store.claim(
                conn,
                now=now,
                lease=self._lease,
                limit=limit,
                busy_subjects={subject for _, subject in self._lanes if subject is not None},
                full_endpoints=[value for kind, value in full if kind == "endpoint"],
                full_urls=[value for kind, value in full if kind == "url"],
            )
        self._only_full = bool(full) and len(claimed) < limit
        self._productive = bool(claimed)
        if not claimed:
            return [], 0, False
        for delivery in claimed:
            self._spills.claimed((store.target(delivery.endpoint_id, delivery.url), delivery.subject))
        touched = self._hold(claimed, now + self._lease, time.monotonic() + self._lease.total_seconds())
        if len(claimed) == limit and all(self._full(lane.target) for lane in touched):
            # What it took filled its receivers: another claim now would leave them out and walk their backlog to
            # find nothing. Room at one of them, or new deliveries for another, wake the next claim.
            self._only_full = True
            return touched, len(claimed), False
        return touched, len(claimed), len(claimed) == limit

    def _hold(self, deliveries: list[Any], leased_until: datetime, deadline: float) -> list[_Lane]:
        """Queue leased deliveries (in the order of their events) in their lanes, starting the lanes that are not
        running; returns the lanes that got some."""
        grouped: dict[tuple[Target, str | None], list[Any]] = {}
        for delivery in deliveries:
            grouped.setdefault((store.target(delivery.endpoint_id, delivery.url), delivery.subject), []).append(
                delivery
            )
        touched: list[_Lane] = []
        for key, held in grouped.items():
            target = key[0]
            self._held[target] += len(held)
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = _Lane(target)
                lane.task = asyncio.create_task(self._serve(key, lane), name="webhook-lane")
            touched.append(lane)
            for delivery in held:
                lane.queue.append(_Held(delivery, deadline, leased_until))
                self._unrecorded[delivery.id] = leased_until
        return touched

    def _claim_may_find(self, target: Target) -> bool:
        """Whether a claim may find deliveries of ``target`` that wait for its room or a lane's end."""
        return self._productive or self._only_full or self._spills.of(target)

    async def _serve(self, key: tuple[Target, str | None], lane: _Lane) -> None:
        """Attempt a lane's deliveries one after the other; its outcomes go to the recorder as they come."""
        slot = self._slots.setdefault(lane.target, asyncio.Semaphore(self._per_target))
        try:
            while lane.queue:
                held = lane.queue[0]
                async with slot:
                    late = time.monotonic() + self._attempt_seconds + LEASE_MARGIN > held.deadline
                    answer = None if late else await self._poster.attempt(held.delivery)
                if answer is None:  # its lease could run out mid-attempt (and another worker claim it)
                    await _to_its_end(self._give_back({h.delivery.id: h.leased_until for h in lane.queue}))
                    break
                lane.queue.popleft()
                self._held[lane.target] -= 1
                if self._held[lane.target] == self._per_target - 1 and self._claim_may_find(lane.target):
                    self._wake.set()  # no longer full: a claim may bring more of its deliveries
                recording = self._recorder.post(outcomes.Outcome(held.delivery, answer))
                self._recording.add(recording)
                recording.add_done_callback(self._recorded)
        finally:
            self._held[lane.target] -= len(lane.queue)
            if self._held[lane.target] <= 0:  # no lane of it waits for its slots
                del self._held[lane.target]
                self._slots.pop(lane.target, None)
            lane.queue.clear()
            del self._lanes[key]
            if self._held.get(lane.target, 0) < self._per_target and self._claim_may_find(lane.target):
                self._wake.set()  # its subject is free (a full receiver wakes a claim when it is no longer full)

    async def _give_back(self, leases: dict[int, datetime]) -> None:
        """Release claimed deliveries (by id: until when this process leased them), unattempted."""
        by_lease: dict[datetime, list[int]] = {}
        for delivery_id, leased_until in leases.items():
            by_lease.setdefault(leased_until, []).append(delivery_id)
        if by_lease:
            async with self._db.write() as conn:
                for leased_until, ids in by_lease.items():
                    await store.release(conn, ids, leased_until)
        for delivery_id in leases:
            self._unrecorded.pop(delivery_id, None)

    def _recorded(self, recording: asyncio.Future[None]) -> None:
        self._recording.discard(recording)
        if recording.cancelled():
            return
        if (exc := recording.exception()) is not None:  # the delivery is attempted again when its lease runs out
            log.error("webhooks.record_failed", error=f"{type(exc).__name__}: {exc}"[:300])

    async def _record(self, batch: list[outcomes.Outcome]) -> list[None]:
        async with self._db.write() as conn:
            await outcomes.record(conn, batch, self._clock())
        for outcome in batch:
            self._unrecorded.pop(outcome.delivery.id, None)
        return [None] * len(batch)

    async def _flush(self) -> None:
        """Wait until every finished attempt is recorded (or failed to be)."""
        while self._recording:
            await asyncio.gather(*list(self._recording), return_exceptions=True)


async def _to_its_end(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end even when this task is cancelled meanwhile (then re-raise): a query cut off half-way
    can leave its connection, and the rows a claim locked, behind (the likely cause of rare hangs of `close` seen
    in tests on PostgreSQL)."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise
