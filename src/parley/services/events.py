"""Live updates for users: new messages and conversation changes, fanned out to SSE streams.

On SQLite (one process) events go straight to this process's subscribers. On PostgreSQL every
process may write and every process may serve streams, so events travel through the database:
`publish` sends a NOTIFY, and each process LISTENs and hands what arrives to its own subscribers
(DESIGN: "live-update fan-out (PostgreSQL LISTEN/NOTIFY) goes through the database").

Events travel with ids only; `expand` (given by the composition root) adds the objects they are about —
a `message.created` carries the message — in each process, just before its subscribers get them: once per batch
of events however many streams are open, never over NOTIFY (its payload stops at 8,000 bytes, a long text would
not fit), and only for events someone here is listening to. When the expansion fails the ids still go out.

Publishing on PostgreSQL is group-committed (`services.batching.GroupCommitter`): whatever was published while the
previous NOTIFY statement ran goes in the next one, one round trip for all of it (`pg_notify` over an array, in
order). One statement per event, one after the other on the publishing connection, made a queue that grew under
load (seconds of delay between "routed" and the agent's screen at a few hundred messages a second). Identical
events published in one statement arrive once (NOTIFY folds identical payloads of one transaction), which only drops
repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog

from parley.services.batching import GroupCommitter

log = structlog.get_logger()

CHANNEL = "parley_events"
QUEUE_SIZE = 1000
# Every payload of a batch in one statement, in the order published (volatile functions run after the sort).
NOTIFY_ALL = "SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS t(p, n) ORDER BY n"


@dataclass(frozen=True)
class Event:
    """``audience``: the user ids that may see it (admins see every event)."""

    type: str
    data: dict[str, Any]
    audience: frozenset[int] = field(default_factory=frozenset)

    def encode(self) -> str:
        return json.dumps({"type": self.type, "data": self.data, "audience": sorted(self.audience)}, default=str)

    @classmethod
    def decode(cls, payload: str) -> Event:
        raw = json.loads(payload)
        return cls(raw["type"], raw["data"], frozenset(raw["audience"]))


@dataclass(eq=False)
class Subscription:
    user_id: int
    is_admin: bool
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    # Instead of the audience: a stream that is no user's (a reply link's chat page) says which events it takes.
    accepts: Callable[[Event], bool] | None = None

    def waiting(self) -> list[Event]:
        """Every event already queued, in order, without waiting: a stream writes them in one go. Written one per
        write, each event cost the stream task a few turns of the event loop, and under load a stream fell
        seconds behind its queue (issue 15: p50 1.4 s from queued to written at 250 msg/s)."""
        events: list[Event] = []
        while not self.queue.empty():
            events.append(self.queue.get_nowait())
        return events

    def wants(self, event: Event) -> bool:
        if self.accepts is not None:
            return self.accepts(event)
        return self.is_admin or self.user_id in event.audience


Expand = Callable[[list[Event]], Awaitable[list[Event]]]


async def _as_is(events: list[Event]) -> list[Event]:
    return events


class EventBus:
    def __init__(self, postgres_dsn: str | None = None, *, expand: Expand = _as_is) -> None:
        self._dsn = postgres_dsn
        self._expand = expand
        self._subscriptions: set[Subscription] = set()
        self._listener: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._publisher: asyncpg.Connection | None = None
        self._notifier: GroupCommitter[Sequence[Event], None] = GroupCommitter(self._notify_all)
        self._closed = False
        self._arrived: asyncio.Queue[Event] = asyncio.Queue()  # NOTIFYs, in order, waiting to be expanded
        self._pump: asyncio.Task[None] | None = None

    async def _ensure_listening(self) -> None:
        if self._dsn is None or self._listener is not None:
            return
        async with self._lock:
            if self._listener is None:
                connection = await asyncpg.connect(self._dsn)
                await connection.add_listener(CHANNEL, self._on_notify)
                self._listener = connection
                self._pump = asyncio.create_task(self._pump_arrived())

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            self._arrived.put_nowait(Event.decode(payload))
        except (ValueError, KeyError):
            log.warning("events.bad_payload")

    async def _pump_arrived(self) -> None:
        """Hand what LISTEN received to the subscribers: everything that arrived meanwhile as one batch, in order."""
        while True:
            batch = [await self._arrived.get()]
            while not self._arrived.empty():
                batch.append(self._arrived.get_nowait())
            await self._hand_out(batch)

    async def _hand_out(self, events: Sequence[Event]) -> None:
        wanted = [e for e in events if any(sub.wants(e) for sub in self._subscriptions)]
        if not wanted:
            return
        try:
            wanted = await self._expand(wanted)
        except Exception:  # the ids alone are still worth sending: a client can fetch the rest
            log.exception("events.expand_failed")
        for event in wanted:
            self._deliver(event)

    def _deliver(self, event: Event) -> None:
        for sub in list(self._subscriptions):
            if sub.wants(event):
                if sub.queue.full():  # a stalled client loses its oldest events, never blocks others
                    with contextlib.suppress(asyncio.QueueEmpty):
                        sub.queue.get_nowait()
                sub.queue.put_nowait(event)

    async def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        if self._dsn is None:
            await self._hand_out(events)
            return
        if self._closed:  # shutting down: nobody is left to hear it here, and the others re-read their inboxes
            log.info("events.dropped_after_close", events=len(events))
            return
        await self._notifier.submit(events)

    async def _notify_all(self, batches: list[Sequence[Event]]) -> list[None]:
        """NOTIFY every event of ``batches`` in one statement (run by one task at a time: the group committer)."""
        assert self._dsn is not None
        if self._publisher is None or self._publisher.is_closed():
            self._publisher = await asyncpg.connect(self._dsn)
        payloads = [event.encode() for batch in batches for event in batch]
        await self._publisher.execute(NOTIFY_ALL, CHANNEL, payloads)
        return [None] * len(batches)

    async def subscribe(
        self, user_id: int, is_admin: bool, *, accepts: Callable[[Event], bool] | None = None
    ) -> Subscription:
        """Start receiving this user's events (registered before this returns: nothing in between is lost);
        ``accepts``: the events to receive instead (the user is then 0 and no admin)."""
        await self._ensure_listening()
        sub = Subscription(user_id, is_admin, accepts=accepts)
        self._subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    async def close(self) -> None:
        self._closed = True
        await self._notifier.close()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
        for connection in (self._listener, self._publisher):
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close()
        self._listener = self._publisher = None


def postgres_dsn(database_url: str) -> str | None:
    """The asyncpg DSN for a SQLAlchemy PostgreSQL URL, or None for SQLite."""
    if not database_url.startswith("postgresql"):
        return None
    _scheme, rest = database_url.split("://", 1)
    return f"postgresql://{rest}"
