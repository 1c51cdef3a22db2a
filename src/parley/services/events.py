"""Live updates for users: new messages and conversation changes, fanned out to SSE streams.

On SQLite (one process) events go straight to this process's subscribers. On PostgreSQL every
process may write and every process may serve streams, so events travel through the database:
`publish` sends a NOTIFY, and each process LISTENs and hands what arrives to its own subscribers
(DESIGN: "live-update fan-out (PostgreSQL LISTEN/NOTIFY) goes through the database").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
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

    def wants(self, event: Event) -> bool:
        return self.is_admin or self.user_id in event.audience


class EventBus:
    def __init__(self, postgres_dsn: str | None = None) -> None:
        self._dsn = postgres_dsn
        self._subscriptions: set[Subscription] = set()
        self._listener: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._publisher: asyncpg.Connection | None = None
        self._publish_lock = asyncio.Lock()

    async def _ensure_listening(self) -> None:
        if self._dsn is None or self._listener is not None:
            return
        async with self._lock:
            if self._listener is None:
                connection = await asyncpg.connect(self._dsn)
                await connection.add_listener(CHANNEL, self._on_notify)
                self._listener = connection

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            self._deliver(Event.decode(payload))
        except (ValueError, KeyError):
            log.warning("events.bad_payload")

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
            for event in events:
                self._deliver(event)
            return
        async with self._publish_lock:
            if self._publisher is None or self._publisher.is_closed():
                self._publisher = await asyncpg.connect(self._dsn)
            publisher = self._publisher
            for event in events:
                await publisher.execute("SELECT pg_notify($1, $2)", CHANNEL, event.encode())

    async def subscribe(self, user_id: int, is_admin: bool) -> Subscription:
        """Start receiving this user's events (registered before this returns: nothing in between is lost)."""
        await self._ensure_listening()
        sub = Subscription(user_id, is_admin)
        self._subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    async def close(self) -> None:
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
