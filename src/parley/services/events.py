"""Live updates for users: new messages and conversation changes, fanned out to SSE streams.

On SQLite (one process) events go straight to this process's subscribers. On PostgreSQL every
process may write and every process may serve streams, so events travel through the database:
`publish` sends a NOTIFY, and each process LISTENs and hands what arrives to its own subscribers
(DESIGN: "live-update fan-out (PostgreSQL LISTEN/NOTIFY) goes through the database").

Events travel with ids only; `expand` (given by the composition root) adds the objects they are about —
a `message.created` carries the message — in each process, just before its subscribers get them: once per batch
of events however many streams are open, never over NOTIFY (its payload stops at 8,000 bytes, a long text would
not fit), and only for events someone here is listening to. When the expansion fails the ids still go out.
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

log = structlog.get_logger()

CHANNEL = "parley_events"
QUEUE_SIZE = 1000


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
        self._publish_lock = asyncio.Lock()
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
        async with self._publish_lock:
            if self._publisher is None or self._publisher.is_closed():
                self._publisher = await asyncpg.connect(self._dsn)
            publisher = self._publisher
            for event in events:
                await publisher.execute("SELECT pg_notify($1, $2)", CHANNEL, event.encode())

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
