"""The campaign runner: moves pending recipients into the send queue, a window at a time, fairly.

Each tick, every running campaign may top its in-flight messages up to `WINDOW`, in turn, so campaigns
side by side share the transports; the dispatcher and each transport's throughput set the real pace.
A recipient outside the campaign's sending hours (in the recipient's own time zone) waits with a
`not_before` time: the campaign pauses and resumes by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.outbound import MAX_MESSAGE_LENGTH
from parley.core.sending_hours import next_allowed, parse_sending_hours, recipient_zone
from parley.core.templates import render
from parley.services.campaigns import plus_one_needs_a_number
from parley.services.directory import DirectoryCache, User, user_from_row
from parley.services.send import charge_rows, enqueue_rows, outbound_row
from parley.store import blocklist
from parley.store import campaigns as store
from parley.store.db import Database
from parley.store.tables import Record, users

log = structlog.get_logger()

WINDOW = 1000  # a campaign's messages waiting in the queue at most (a stop withdraws them cheaply)
BATCH = 500


class CampaignRunner:
    def __init__(
        self, db: Database, cache: DirectoryCache, clock: Callable[[], datetime], *, on_enqueued: Callable[[], None]
    ) -> None:
        self._db = db
        self._cache = cache
        self._clock = clock
        self._on_enqueued = on_enqueued
        self.active = 0  # running campaigns seen by the last tick

    async def tick(self) -> int:
        """One round over the active campaigns; returns how many recipients were handled."""
        now = self._clock()
        handled = 0
        async with self._db.write() as conn:
            for campaign in await store.with_status(conn, ["scheduled"]):
                if campaign.start_at is None or campaign.start_at <= now:
                    await store.update(conn, campaign.id, status="running", updated_at=now)
        async with self._db.read() as conn:
            running = await store.with_status(conn, ["running"])
        self.active = len(running)
        for campaign in running:
            try:
                handled += await self._advance(campaign)
            except Exception:
                log.exception("campaign.tick_failed", campaign=campaign.id)
        if handled:
            self._on_enqueued()
        return handled

    async def _advance(self, campaign: Record) -> int:
        now = self._clock()
        config = await self._cache.config()
        async with self._db.write() as conn:
            current = await store.find(conn, campaign.id)
            if current is None or current.status != "running":  # stopped meanwhile
                return 0
            room = WINDOW - await store.in_flight(conn, campaign.id)
            batch = await store.take_pending(conn, campaign.id, now=now, limit=min(BATCH, room)) if room > 0 else []
            if not batch:
                await self._maybe_complete(conn, campaign, now)
                return 0
            rating = await _rating_user(conn, campaign.rating_user_id)
            blocked = await blocklist.contains(conn, [r.number for r in batch])
            hours = parse_sending_hours(campaign.hours) if campaign.hours else None
            changes: list[dict[str, Any]] = []
            rows: list[dict[str, Any]] = []
            for recipient in batch:
                change: dict[str, Any] = {"number": recipient.number}
                text = render(campaign.template, recipient.fields)
                wait = next_allowed(hours, recipient_zone(recipient.number, config.timezone), now) if hours else None
                if recipient.number in blocked:
                    change.update(state="skipped", reason="blocklisted or opted out")
                elif plus_one_needs_a_number(campaign.sender_type, recipient.number):
                    change.update(state="skipped", reason="+1 destinations need a company number as the sender")
                elif not text.strip() or len(text) > MAX_MESSAGE_LENGTH:
                    change.update(state="skipped", reason=f"the message is empty or longer than {MAX_MESSAGE_LENGTH}")
                elif wait is not None:
                    change.update(not_before=wait)
                else:
                    row = outbound_row(
                        sender=campaign.sender,
                        to=recipient.number,
                        text=text,
                        now=now,
                        user_id=campaign.rating_user_id,
                        source="campaign",
                        campaign_id=campaign.id,
                    )
                    rows.append(row)
                    change.update(state="queued", message_id=row["id"])
                changes.append(change)
            if rows and rating is not None:
                await charge_rows(conn, rating, rows, month=now.strftime("%Y-%m"), prices=config.prices)
            await enqueue_rows(conn, rows, now)
            await store.set_recipients(conn, campaign.id, changes)
        return len(changes)

    async def _maybe_complete(self, conn: AsyncConnection, campaign: Record, now: datetime) -> None:
        counts = await store.counts(conn, campaign.id)
        if counts.get("recipients.pending", 0) == 0 and await store.in_flight(conn, campaign.id) == 0:
            await store.update(conn, campaign.id, status="completed", completed_at=now, updated_at=now)
            log.info("campaign.completed", campaign=campaign.id)


async def _rating_user(conn: AsyncConnection, user_id: int | None) -> User | None:
    if user_id is None:
        return None
    row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).first()
    return user_from_row(row) if row is not None else None
