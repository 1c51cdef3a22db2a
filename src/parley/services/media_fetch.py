"""Inbound attachments: fetched from the provider after the message is stored, retried, never holding up its text.

An inbound MMS is stored with one `message_media` row per attachment, ``pending``, naming the provider's reference
and the transport it came through (`services/receive.py`). This loop claims due rows under a lease (any number of
workers, on SQLite or PostgreSQL: `store/media.py`), asks the transport's channel to stream the bytes
(`MediaSource.fetch_media`, with its own credentials) into the media store, which sniffs and keeps them, and marks
the row ``ready``. A provider that is down or slow, or any unexpected error, is tried again on `FetchPolicy`'s
schedule (5 s, 30 s, 2 min, 10 min, 30 min, then hourly) until a day has passed; a refusal that a later try cannot
change (404, a file over the limit, a type Parley does not keep) fails the row at once, with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog

from parley.channels.base import MediaUnavailable
from parley.core.media import FetchPolicy
from parley.logs import Failures
from parley.services.events import Event, EventBus
from parley.services.media import MediaInfo, MediaRefused, MediaStore
from parley.store import media as store
from parley.store.db import Database
from parley.store.tables import messages, participants
from parley.waiting import woken

log = structlog.get_logger()
failures = Failures(log)

# A transport's name -> its running channel, which fetches attachments when it is a `channels.base.MediaSource`.
Lookup = Callable[[str], object | None]
OnChanged = Callable[[Sequence[str]], Awaitable[None]]  # message ids whose attachments changed
SWEEP_EVERY = timedelta(hours=1)
_END = object()


class _Pipe:
    """Bridges `fetch_media`'s pushes (``write``) to `MediaStore.save`'s pulls (``chunks``), a few chunks deep, so
    a fast provider waits for a slow store instead of filling memory."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize=4)

    async def write(self, data: bytes) -> None:
        if data:
            await self._queue.put(bytes(data))

    async def close(self, error: BaseException | None = None) -> None:
        await self._queue.put(error if error is not None else _END)

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, bytes):
                yield item


class MediaFetcher:
    def __init__(
        self,
        db: Database,
        media: MediaStore,
        lookup: Lookup,
        clock: Callable[[], datetime],
        *,
        max_bytes: int,
        policy: FetchPolicy | None = None,
        lease: timedelta = timedelta(minutes=10),
        batch: int = 8,
        on_changed: OnChanged | None = None,
    ) -> None:
        self._db = db
        self._media = media
        self._lookup = lookup
        self._clock = clock
        self._max_bytes = max_bytes
        self._policy = policy or FetchPolicy()
        self._lease = lease
        self._batch = batch
        self._on_changed = on_changed
        self._wakeup = asyncio.Event()
        self._swept_at: datetime | None = None

    def wake(self) -> None:
        """Look for attachments now (an inbound MMS was just stored)."""
        self._wakeup.set()

    async def run(self, idle: float = 1.0) -> None:
        """The worker loop: fetch what is due; otherwise wait for a wake-up or ``idle`` seconds."""
        while True:
            self._wakeup.clear()
            try:
                busy = await self.fetch_due()
                await self._sweep()
            except Exception:
                failures.exception("media_fetch.failed")
                busy = 0
            if not busy:
                await woken(self._wakeup, idle)

    async def _sweep(self) -> None:
        now = self._clock()
        if self._swept_at is None or now - self._swept_at >= SWEEP_EVERY:
            self._swept_at = now
            await self._media.sweep(now)

    async def fetch_due(self) -> int:
        """Claim the attachments that are due and fetch them, a batch at a time: how many were claimed."""
        now = self._clock()
        async with self._db.write() as conn:
            claimed = await store.claim_pending(conn, now=now, lease=self._lease, limit=self._batch)
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._fetch(c) for c in claimed))
        changed = [c.message_id for c, recorded in zip(claimed, outcomes, strict=True) if recorded]
        if changed and self._on_changed is not None:
            try:
                await self._on_changed(sorted(set(changed)))
            except Exception:
                failures.exception("media_fetch.announce_failed")
        return len(claimed)

    async def _fetch(self, claimed: store.ClaimedFetch) -> bool:
        """Fetch one attachment and record the outcome; whether it was recorded (a state changed)."""
        try:
            info = await self._download(claimed)
        except MediaRefused as exc:
            return await self._record(claimed, {"state": "failed", "error": exc.reason})
        except MediaUnavailable as exc:
            return await self._failed(claimed, exc.reason, retryable=exc.retryable)
        except TimeoutError:
            return await self._failed(claimed, "the provider did not send the file in time", retryable=True)
        except Exception as exc:
            failures.exception("media_fetch.unexpected", transport=claimed.transport)
            return await self._failed(claimed, f"unexpected error: {type(exc).__name__}", retryable=True)
        recorded = await self._record(claimed, {"state": "ready", "media_id": info.id, "error": None})
        if not recorded:  # another worker took the row over (our lease ran out): its copy counts, not ours
            await self._media.delete(info.id)
        return recorded

    async def _download(self, claimed: store.ClaimedFetch) -> MediaInfo:
        channel = self._lookup(claimed.transport)
        if channel is None:
            raise MediaUnavailable(f'the transport "{claimed.transport}" is not running', retryable=True)
        fetch = getattr(channel, "fetch_media", None)
        if fetch is None:
            raise MediaUnavailable(f'the transport "{claimed.transport}" cannot fetch attachments', retryable=False)
        pipe = _Pipe()

        async def produce() -> None:
            try:
                await fetch(claimed.source, pipe.write, max_bytes=self._max_bytes)
            except Exception as exc:
                await pipe.close(exc)  # the store's reading raises it, and keeps nothing
                return
            await pipe.close()

        # Bounded well inside the lease, so that no other worker takes the row over while this one still fetches.
        async with asyncio.timeout(self._lease.total_seconds() * 0.8):
            producer = asyncio.create_task(produce())
            try:
                name = f"attachment-{claimed.position + 1}"
                return await self._media.save(
                    owner_id=None, filename=name, chunks=pipe.chunks(), max_bytes=self._max_bytes
                )
            finally:
                if not producer.done():
                    producer.cancel()
                with contextlib.suppress(BaseException):
                    await producer

    async def _failed(self, claimed: store.ClaimedFetch, reason: str, *, retryable: bool) -> bool:
        wait = self._policy.next_delay(claimed.attempts) if retryable else None
        if wait is None:
            given_up = f"gave up after {claimed.attempts} attempts: {reason}" if retryable else reason
            log.warning("media_fetch.failed", transport=claimed.transport, reason=given_up)
            return await self._record(claimed, {"state": "failed", "error": given_up})
        await self._record(claimed, {"due_at": self._clock() + wait, "error": reason})
        return False  # still pending: nothing to announce

    async def _record(self, claimed: store.ClaimedFetch, values: dict[str, Any]) -> bool:
        async with self._db.write() as conn:
            return await store.record(conn, claimed, values)


class MediaEvents:
    """Tells a conversation's participants that a message's attachments changed (fetched, or given up):
    ``message.media`` {conversation_id, message_id}. Ids only, as every event (services/events.py); a client reads
    the message (its ``media``) again."""

    def __init__(self, db: Database, bus: EventBus) -> None:
        self._db = db
        self._bus = bus

    async def changed(self, message_ids: Sequence[str]) -> None:
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(messages.c.id, messages.c.conversation_id, participants.c.user_id)
                    .outerjoin(
                        participants,
                        sa.and_(
                            participants.c.conversation_id == messages.c.conversation_id,
                            participants.c.active.is_(True),
                            participants.c.user_id.is_not(None),
                        ),
                    )
                    .where(messages.c.id.in_(list(message_ids)), messages.c.conversation_id.is_not(None))
                )
            ).all()
        audience: dict[str, set[int]] = {}
        conversation: dict[str, str] = {}
        for r in rows:  # none when not routed into a conversation yet: its `message.created` comes later
            conversation[r.id] = r.conversation_id
            if r.user_id is not None:
                audience.setdefault(r.id, set()).add(r.user_id)
        await self._bus.publish(
            [
                Event("message.media", {"conversation_id": cid, "message_id": mid}, frozenset(audience.get(mid, ())))
                for mid, cid in conversation.items()
            ]
        )
