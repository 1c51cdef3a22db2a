"""Firing timed actions: durable timer rows, claimed when due, re-checked, then run or cancelled.

A timer is armed when an inbound message arrives (services.inbound). When it comes due, the action's
conditions are checked again against the conversation as it is now: if someone replied or read in
the meantime the timer is cancelled; otherwise the task runs (a bot message, or members added).
Timers are rows, so they survive restarts; a claimed timer is leased, so a crashed worker's timer is
taken up again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.actions import AddMembers, BotMessage, TimerOutcome, on_timer
from parley.core.licenses import License
from parley.core.membership import bot_key, user_key
from parley.logs import Failures
from parley.services import conversation_support as support
from parley.services.bot_messages import NotSent, bot_row
from parley.services.bot_messages import Thread as BotThread
from parley.services.events import Event, EventBus
from parley.services.send import enqueue_rows
from parley.services.whatsapp_sends import TemplateResolver
from parley.store import conversations as store
from parley.store import participants as participant_store
from parley.store import timeline as timeline_store
from parley.store.db import Database
from parley.store.tables import Record, timers, users

log = structlog.get_logger()
failures = Failures(log)  # a failure that repeats in a loop: its traceback once, then counts


class Timers:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        clock: Callable[[], datetime],
        *,
        on_enqueued: Callable[[], None],
        lease: timedelta = timedelta(seconds=60),
        templates: TemplateResolver | None = None,
    ) -> None:
        self._db = db
        self._templates = templates
        self._bus = bus
        self._clock = clock
        self._on_enqueued = on_enqueued
        self._lease = lease

    async def fire_due(self, limit: int = 100) -> int:
        """Run every due timer once; returns how many were handled."""
        now = self._clock()
        async with self._db.write() as conn:
            due = (
                sa.select(timers.c.id)
                .where(
                    timers.c.done_at.is_(None),
                    timers.c.fire_at <= now,
                    sa.or_(timers.c.lease_until.is_(None), timers.c.lease_until <= now),
                )
                .order_by(timers.c.fire_at)
                .limit(limit)
            )
            if conn.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            claimed = (
                (
                    await conn.execute(
                        timers.update()
                        .where(timers.c.id.in_(due.scalar_subquery()))
                        .values(lease_until=now + self._lease)
                        .returning(timers.c.id)
                    )
                )
                .scalars()
                .all()
            )
        for timer_id in claimed:
            try:
                await self._fire(int(timer_id))
            except Exception:
                failures.exception("timer.failed", timer=timer_id)
        return len(claimed)

    async def _fire(self, timer_id: int) -> None:
        now = self._clock()
        events: list[Event] = []
        queued = False
        async with self._db.write() as conn:
            timer = (await conn.execute(sa.select(timers).where(timers.c.id == timer_id))).first()
            conversation = await store.find(conn, timer.conversation_id) if timer is not None else None
            if timer is None or conversation is None or timer.done_at is not None:
                return
            number = await support.find_number(conn, conversation.company_number)
            service = await support.owning_service(conn, number, conversation.company_number)
            config, _ = await support.settings_for(conn, number, service)
            action = config.action(timer.action)
            state = await support.state_of(conn, conversation)
            outcome = on_timer(action, state, now) if action is not None else TimerOutcome(fire=False)
            if not outcome.fire:
                if outcome.recheck_at is not None:  # the condition's start moved later: wait for it
                    await conn.execute(
                        timers.update()
                        .where(timers.c.id == timer_id)
                        .values(fire_at=outcome.recheck_at, lease_until=None)
                    )
                else:  # the condition stopped holding (someone replied, read, or it already ran)
                    await self._done(conn, timer_id, now, "cancelled")
                return
            if action is None:  # pragma: no cover - on_timer never fires without an action
                return
            timeline = [support.event_row(conversation.id, "action", "system", now, action=action.name)]
            if isinstance(action.task, BotMessage):
                queued = await self._bot_says(conn, conversation, action.task, now, timeline)
            elif isinstance(action.task, AddMembers):
                await self._add_members(conn, conversation, action.task, now, timeline)
            await timeline_store.add_events(conn, timeline)
            await self._done(conn, timer_id, now, "fired")
            audience = await support.active_user_ids(conn, conversation.id)
            events.append(Event("conversation.updated", {"conversation_id": conversation.id}, audience))
        if queued:
            self._on_enqueued()
        await self._bus.publish(events)

    async def _done(self, conn: AsyncConnection, timer_id: int, now: datetime, outcome: str) -> None:
        await conn.execute(timers.update().where(timers.c.id == timer_id).values(done_at=now, outcome=outcome))

    async def _bot_says(
        self, conn: AsyncConnection, conversation: Record, task: BotMessage, now: datetime, timeline: list[Any]
    ) -> bool:
        if await participant_store.put_member(
            conn, conversation.id, bot_key(task.bot), user_id=None, bot=task.bot, now=now
        ):
            timeline.append(support.event_row(conversation.id, "joined", "system", now, member=bot_key(task.bot)))
        thread = BotThread(conversation.id, conversation.company_number, conversation.external_number,
                           conversation.last_channel, conversation.whatsapp_last_inbound_at)  # fmt: skip
        row = await bot_row(conn, thread, task.bot, task.message, now, self._templates)
        if isinstance(row, NotSent):
            timeline.append(support.event_row(conversation.id, "not_sent", "system", now, bot=task.bot,
                                              reason=row.reason))  # fmt: skip
            log.warning("timer.not_sent", conversation=conversation.id, bot=task.bot, reason=row.reason)
            return False
        await enqueue_rows(conn, [row], now)
        await store.update(conn, conversation.id, last_reply_at=now, last_message_at=now, updated_at=now)
        return True

    async def _add_members(
        self, conn: AsyncConnection, conversation: Record, task: AddMembers, now: datetime, timeline: list[Any]
    ) -> None:
        rows = (
            await conn.execute(sa.select(users.c.id, users.c.license).where(users.c.extension.in_(task.extensions)))
        ).all()
        for row in rows:
            if License.parse(row.license).may_converse and await participant_store.put_member(
                conn, conversation.id, user_key(row.id), user_id=row.id, bot=None, now=now
            ):
                timeline.append(support.event_row(conversation.id, "joined", "system", now, member=user_key(row.id)))
