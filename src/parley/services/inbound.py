"""Routing an inbound message (stored first by `Inbox`) into its conversation, with the right people.

For each message, in one transaction: the conversation for (company number, customer, service) is
found or opened; a blocked customer's message is kept but not shown; opt-out keywords are recorded;
members join by the number's routing and working hours (core.membership); a bot in the chat answers
out of hours; the number's timed actions are armed. Participants are told after the commit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.actions import on_inbound
from parley.core.membership import Candidate, Route, bot_key, user_key, who_joins
from parley.core.number_config import NumberConfig
from parley.core.optout import Keyword, classify
from parley.services import conversation_support as support
from parley.services.events import Event, EventBus
from parley.services.send import enqueue_rows, outbound_row
from parley.store import blocklist, messages, queue
from parley.store import conversations as store
from parley.store.db import Database
from parley.store.ids import new_id
from parley.store.tables import Record, bots, timers
from parley.store.tables import messages as messages_table

log = structlog.get_logger()

# A bot answers an out-of-hours message unless it already answered in this conversation this recently.
BOT_QUIET = timedelta(hours=1)


@dataclass(frozen=True)
class NumberRouting:
    """What routing needs to know about one company number; read once, kept for `ROUTING_TTL`."""

    number: Record | None
    service: Record | None
    config: NumberConfig
    service_members: list[Candidate]
    office_users: list[Candidate]
    route_users: dict[Route, list[Candidate]]


# Settings, members and licenses change rarely; a short cache keeps routing to a few queries a message.
ROUTING_TTL = 2.0


class InboundRouter:
    def __init__(
        self, db: Database, bus: EventBus, clock: Callable[[], datetime], *, on_enqueued: Callable[[], None]
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._on_enqueued = on_enqueued
        self._routings: dict[str, tuple[float, NumberRouting]] = {}

    async def _routing(self, conn: AsyncConnection, company: str) -> NumberRouting:
        cached = self._routings.get(company)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        number = await support.find_number(conn, company)
        service = await support.owning_service(conn, number, company) if number is not None else None
        config = (await support.settings_for(conn, number, service))[0] if number is not None else NumberConfig()
        routes = {r for r in (config.routing, config.out_of_hours) if r is not None}
        info = NumberRouting(
            number=number,
            service=service,
            config=config,
            service_members=await support.static_members(conn, service.id if service is not None else None),
            office_users=await support.office_users(conn, company),
            route_users={r: await support.route_users(conn, r) for r in routes},
        )
        if len(self._routings) > 10_000:
            self._routings.clear()
        self._routings[company] = (time.monotonic() + ROUTING_TTL, info)
        return info

    async def route(self, message_id: str) -> None:
        """Route one stored inbound message and finish its job (idempotent: a routed message is skipped)."""
        async with self._db.write() as conn:
            events, queued = await self._route(conn, message_id)
            await queue.finish(conn, [message_id])
        if queued:
            self._on_enqueued()
        await self._bus.publish(events)

    async def _route(self, conn: AsyncConnection, message_id: str) -> tuple[list[Event], bool]:
        now = self._clock()
        msg = (await messages.get_many(conn, [message_id])).get(message_id)
        if msg is None or msg.conversation_id is not None or msg.direction != "in":
            return [], False
        company, customer = msg.recipient, msg.sender
        info = await self._routing(conn, company)
        number, service = info.number, info.service
        if number is None:
            await conn.execute(
                messages_table.update()
                .where(messages_table.c.id == message_id)
                .values(error=f"{company} is not a company number of this PBX", updated_at=now)
            )
            return [Event("message.unrouted", {"message_id": message_id, "to": company}, frozenset())], False
        conversation, opened = await self._conversation(conn, company, customer, service, now)
        cid = conversation.id
        timeline: list[dict[str, Any]] = []
        if opened:
            timeline.append(support.event_row(cid, "opened", "customer", now))
        update: dict[str, Any] = {"conversation_id": cid, "updated_at": now}
        if await store.is_blocked(conn, company, customer):
            update["status"] = "blocked"
            await conn.execute(messages_table.update().where(messages_table.c.id == message_id).values(**update))
            return [], False
        await conn.execute(messages_table.update().where(messages_table.c.id == message_id).values(**update))
        timeline += await self._keywords(conn, cid, company, customer, msg.body, now)

        config = info.config
        route = config.route_at(now)
        present = await support.presence(conn, cid)
        joining = who_joins(
            route=route,
            route_users=info.route_users.get(route, []) if route is not None else [],
            service_members=info.service_members,
            office_users=info.office_users,
            present=present,
        )
        for uid in joining.users:
            if await store.put_member(conn, cid, user_key(uid), user_id=uid, bot=None, now=now):
                timeline.append(support.event_row(cid, "joined", "system", now, member=user_key(uid)))
        for name in joining.bots:
            if await store.put_member(conn, cid, bot_key(name), user_id=None, bot=name, now=now):
                timeline.append(support.event_row(cid, "joined", "system", now, member=bot_key(name)))
        await store.update(
            conn, cid, last_message_at=msg.created_at, last_inbound_at=msg.created_at, updated_at=now,
            unrouted=joining.unrouted,
        )  # fmt: skip
        queued = False
        if not config.is_open(now):
            queued = await self._bots_answer(conn, conversation, company, customer, now)
        await self._arm_timers(conn, cid, config, now)
        await store.add_events(conn, timeline)
        audience = frozenset(
            {int(k[2:]) for k, p in present.items() if k.startswith("u:") and p.active} | set(joining.users)
        )
        events = [Event("message.created", {"conversation_id": cid, "message_id": message_id}, audience)]
        if timeline:
            events.append(Event("conversation.updated", {"conversation_id": cid}, audience))
        return events, queued

    async def _conversation(
        self, conn: AsyncConnection, company: str, customer: str, service: Record | None, now: datetime
    ) -> tuple[Record, bool]:
        key = store.thread_key(company, customer, service.id if service is not None else None)
        found = await store.find_by_thread(conn, key)
        if found is not None:
            return found, False
        cid = new_id()
        await store.add(
            conn,
            {
                "id": cid, "thread_key": key, "company_number": company, "external_number": customer,
                "service_id": service.id if service is not None else None, "title": customer, "assignee_id": None,
                "unrouted": False, "created_at": now, "updated_at": now,
            },
        )  # fmt: skip
        created = await store.find(conn, cid)
        if created is None:  # pragma: no cover - just inserted in this transaction
            raise RuntimeError("conversation vanished")
        return created, True

    async def _keywords(
        self, conn: AsyncConnection, cid: str, company: str, customer: str, text: str, now: datetime
    ) -> list[dict[str, Any]]:
        """Customers' STOP / START / HELP: recorded as opt-out state; a probable opt-out is flagged."""
        match = classify(text)
        if match is None:
            return []
        if not match.exact:
            return [support.event_row(cid, "probable_opt_out", "customer", now, text=text[:160])]
        if match.keyword is Keyword.HELP:
            return [support.event_row(cid, "help_requested", "customer", now)]
        opted_out = match.keyword is Keyword.STOP
        keyword = text.strip()[:32]
        await store.set_optout(conn, company, customer, opted_out=opted_out, keyword=keyword, now=now)
        # Campaigns honour opt-outs through the blocklist; the customer's START takes the number off it.
        if opted_out:
            await blocklist.add(conn, customer, reason=f"opt-out: {keyword}"[:64], by=None, now=now)
        else:
            await blocklist.remove(conn, customer)
        return [support.event_row(cid, "opted_out" if opted_out else "opted_in", "customer", now)]

    async def _bots_answer(
        self, conn: AsyncConnection, conversation: Record, company: str, customer: str, now: datetime
    ) -> bool:
        """Each active bot answers an out-of-hours message, at most once per `BOT_QUIET`."""
        members = await store.members(conn, conversation.id)
        rows = []
        for member in members:
            if member.bot is None or not member.active:
                continue
            recent = await conn.scalar(
                sa.select(sa.func.count()).where(
                    messages_table.c.conversation_id == conversation.id,
                    messages_table.c.bot == member.bot,
                    messages_table.c.created_at > now - BOT_QUIET,
                )
            )
            text = await conn.scalar(sa.select(bots.c.message).where(bots.c.name == member.bot))
            if recent or not text:
                continue
            rows.append(
                outbound_row(
                    sender=company,
                    to=customer,
                    text=text,
                    now=now,
                    user_id=None,
                    source="bot",
                    conversation_id=conversation.id,
                    bot=member.bot,
                )
            )
        if rows:
            await enqueue_rows(conn, rows, now)
            await store.update(conn, conversation.id, last_reply_at=now, last_message_at=now)
        return bool(rows)

    async def _arm_timers(self, conn: AsyncConnection, cid: str, config: Any, now: datetime) -> None:
        if not config.actions:
            return
        conversation = await store.find(conn, cid)
        state = await support.state_of(conn, conversation)
        armed = on_inbound(config.actions, state, now)
        if armed:
            await conn.execute(
                timers.insert(),
                [{"conversation_id": cid, "action": a.name, "fire_at": at, "created_at": now} for a, at in armed],
            )
