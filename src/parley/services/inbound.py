"""Routing an inbound message (stored first by `Inbox`) into its conversation, with the right people.

For each message, in one transaction: the conversation for (company number, customer, service) is
found or opened; a blocked customer's message is kept but not shown; opt-out keywords are recorded;
members join by the number's routing and working hours (core.membership); a bot in the chat answers
out of hours; the number's timed actions are armed. Participants are told after the commit.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
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
from parley.logs import Failures, one_line
from parley.services import conversation_support as support
from parley.services.bot_messages import NotSent, bot_row
from parley.services.bot_messages import Thread as BotThread
from parley.services.events import Event, EventBus
from parley.services.inbound_batch import RoutingBatch, Thread
from parley.services.whatsapp_sends import TemplateResolver
from parley.store import blocklist, messages, queue
from parley.store import conversations as store
from parley.store import optouts as optout_store
from parley.store.db import Database
from parley.store.queue import ClaimedJob
from parley.store.tables import Record, bots
from parley.store.tables import messages as messages_table

log = structlog.get_logger()

# A bot answers an out-of-hours message unless it already answered in this conversation this recently.
BOT_QUIET = timedelta(hours=1)
# A message whose routing failed this many times (each after its lease ran out) is parked: its route job is removed
# and the reason kept on the message (``error``), instead of failing, and being logged, every minute for ever.
MAX_ROUTE_ATTEMPTS = 5


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
        self,
        db: Database,
        bus: EventBus,
        clock: Callable[[], datetime],
        *,
        on_enqueued: Callable[[], None],
        templates: TemplateResolver | None = None,
        on_routed: Callable[[AsyncConnection, Sequence[Record]], Awaitable[None]] | None = None,
    ) -> None:
        self._db = db
        # Told, in the routing transaction, of the messages routed to a company number (not blocked): the SMPP
        # server's applications get theirs that way (services.smpp_applications.SmppInbound).
        self._on_routed = on_routed
        self._templates = templates  # a bot outside a customer's WhatsApp window answers with its template
        self._bus = bus
        self._clock = clock
        self._on_enqueued = on_enqueued
        self._routings: dict[str, tuple[float, NumberRouting]] = {}
        self._failures = Failures(log)

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
            events, queued = await self._route_all(conn, [message_id])
        await self._done(events, queued)

    async def route_many(self, message_ids: Sequence[str]) -> list[str]:
        """Route stored inbound messages, in id (arrival) order, and finish their jobs; returns the ids done.

        One transaction for the batch. If it fails, the messages are routed again one by one in one
        transaction, each in its own savepoint: a message that fails keeps its job (leased; routed again
        when the lease runs out) and takes no other message with it.
        """
        try:
            async with self._db.write() as conn:
                events, queued = await self._route_all(conn, message_ids)
        except Exception:
            if len(message_ids) == 1:  # the lease runs out and the message is routed again
                self._failures.exception("router.message_failed", message=message_ids[0])
                return []
            self._failures.exception("router.batch_failed", messages=len(message_ids))
            return await self._route_each(message_ids)
        await self._done(events, queued)
        return list(message_ids)

    async def route_next(self, claim: Callable[[AsyncConnection], Awaitable[Sequence[ClaimedJob]]]) -> int:
        """Claim messages (``claim`` leases their jobs) and route them in the same transaction; returns how many.

        If that transaction fails, nothing of it remains: the messages are claimed again in a transaction of
        their own (so that one that keeps failing waits for its lease) and routed one by one, each in a savepoint;
        one that has failed `MAX_ROUTE_ATTEMPTS` times is parked.
        """
        try:
            async with self._db.write() as conn:
                message_ids = sorted(j.message_id for j in await claim(conn))
                events, queued = await self._route_all(conn, message_ids) if message_ids else ([], False)
        except Exception:
            self._failures.exception("router.batch_failed")
            async with self._db.write() as conn:
                attempts = {j.message_id: j.attempts for j in await claim(conn)}
            if attempts:
                await self._route_each(sorted(attempts), attempts)
            return len(attempts)
        await self._done(events, queued)
        return len(message_ids)

    async def _route_each(self, message_ids: Sequence[str], attempts: dict[str, int] | None = None) -> list[str]:
        """Route each message in a savepoint of one transaction; those that fail keep their (leased) job, unless
        they have failed ``attempts`` (from the claim) `MAX_ROUTE_ATTEMPTS` times: then they are parked."""
        done: list[str] = []
        events: list[Event] = []
        parked: dict[str, str] = {}
        queued = False
        async with self._db.write() as conn:
            for message_id in sorted(message_ids):
                try:
                    async with conn.begin_nested():
                        routed, replied = await self._route_all(conn, [message_id])
                except Exception as exc:  # the lease runs out and the message is routed again
                    self._failures.exception("router.message_failed", message=message_id)
                    tries = (attempts or {}).get(message_id, 0)
                    if tries >= MAX_ROUTE_ATTEMPTS:
                        parked[message_id] = f"not routed: failed {tries} times ({one_line(exc, 200)})"
                    continue
                done.append(message_id)
                events += routed
                queued = queued or replied
            if parked:
                await self._park(conn, parked)
        await self._done(events, queued)
        return done

    async def _park(self, conn: AsyncConnection, reasons: dict[str, str]) -> None:
        """Stop routing these messages: their jobs go, the reason stays on each message (it is kept, not shown)."""
        now = self._clock()
        await queue.finish(conn, list(reasons))
        await messages.update_many(conn, [{"id": mid, "error": why, "updated_at": now} for mid, why in reasons.items()])
        for message_id, why in reasons.items():
            log.error("router.message_parked", message=message_id, reason=why)

    async def _done(self, events: list[Event], queued: bool) -> None:
        """After the commit: wake the dispatcher for bot replies, tell the participants."""
        if queued:
            self._on_enqueued()
        await self._bus.publish(events)

    async def _route_all(self, conn: AsyncConnection, message_ids: Sequence[str]) -> tuple[list[Event], bool]:
        now = self._clock()
        found = await messages.get_many(conn, message_ids)
        todo = sorted(
            (m for m in found.values() if m.conversation_id is None and m.direction == "in"), key=lambda m: m.id
        )
        infos = {company: await self._routing(conn, company) for company in sorted({m.recipient for m in todo})}
        routable = [m for m in todo if infos[m.recipient].number is not None]
        keys = [store.thread_key(m.recipient, m.sender, _service_id(infos[m.recipient])) for m in routable]
        batch = await RoutingBatch.load(conn, keys, [(m.recipient, m.sender) for m in routable], now)
        events: list[Event] = []
        for msg in todo:
            events += await self._route_one(conn, batch, msg, infos[msg.recipient])
        await batch.flush(conn)
        if self._on_routed is not None:
            await self._on_routed(conn, [m for m in routable if not batch.is_blocked(m.recipient, m.sender)])
        await queue.finish(conn, list(message_ids))
        return events, batch.replied

    async def _route_one(
        self, conn: AsyncConnection, batch: RoutingBatch, msg: Record, info: NumberRouting
    ) -> list[Event]:
        now = batch.now
        company, customer = msg.recipient, msg.sender
        if info.number is None:
            batch.update_message(msg.id, error=f"{company} is not a company number of this PBX", updated_at=now)
            return [Event("message.unrouted", {"message_id": msg.id, "to": company}, frozenset())]
        thread, opened = batch.thread(company, customer, _service_id(info))
        cid = thread.id
        timeline: list[dict[str, Any]] = []
        if opened:
            timeline.append(support.event_row(cid, "opened", "customer", now))
        if batch.is_blocked(company, customer):
            batch.update_message(msg.id, conversation_id=cid, status="blocked", updated_at=now)
            return []
        batch.update_message(msg.id, conversation_id=cid, updated_at=now)
        timeline += await self._keywords(conn, cid, company, customer, msg.body, now)

        config = info.config
        route = config.route_at(now)
        present = dict(thread.presence)
        joining = who_joins(
            route=route,
            route_users=info.route_users.get(route, []) if route is not None else [],
            service_members=info.service_members,
            office_users=info.office_users,
            present=present,
        )
        for uid in joining.users:
            if batch.put_member(thread, user_key(uid), user_id=uid, bot=None):
                timeline.append(support.event_row(cid, "joined", "system", now, member=user_key(uid)))
        for name in joining.bots:
            if batch.put_member(thread, bot_key(name), user_id=None, bot=name):
                timeline.append(support.event_row(cid, "joined", "system", now, member=bot_key(name)))
        batch.touch(
            thread, last_message_at=msg.created_at, last_inbound_at=msg.created_at, updated_at=now,
            unrouted=joining.unrouted, last_channel="whatsapp" if msg.channel == "whatsapp" else "sms",
        )  # fmt: skip
        if msg.channel == "whatsapp":
            # The 24-hour window counts from the time Meta gives the message (its created_at), never backwards.
            known = thread.row.get("whatsapp_last_inbound_at")
            batch.touch(thread, whatsapp_last_inbound_at=max(msg.created_at, known or msg.created_at))
        answers = await self._bots_answer(conn, batch, thread, company, customer) if not config.is_open(now) else []
        await self._arm_timers(conn, batch, thread, config)
        batch.add_timeline(timeline)
        audience = frozenset(
            {int(k[2:]) for k, p in present.items() if k.startswith("u:") and p.active} | set(joining.users)
        )
        events = [
            Event("message.created", {"conversation_id": cid, "message_id": m}, audience) for m in [msg.id, *answers]
        ]  # a bot's answers too: a reply link's chat page shows them as they come
        if timeline:
            events.append(Event("conversation.updated", {"conversation_id": cid}, audience))
        return events

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
        await optout_store.set_optout(conn, company, customer, opted_out=opted_out, keyword=keyword, now=now)
        # Campaigns honour opt-outs through the blocklist; the customer's START takes the number off it.
        if opted_out:
            await blocklist.add(conn, customer, reason=f"opt-out: {keyword}"[:64], by=None, now=now)
        else:
            await blocklist.remove(conn, customer)
        return [support.event_row(cid, "opted_out" if opted_out else "opted_in", "customer", now)]

    async def _bots_answer(
        self, conn: AsyncConnection, batch: RoutingBatch, thread: Thread, company: str, customer: str
    ) -> list[str]:
        """Each active bot answers an out-of-hours message, at most once per `BOT_QUIET`; returns the answers' ids."""
        now = batch.now
        rows = []
        for member, presence in sorted(thread.presence.items()):
            if not member.startswith("b:") or not presence.active:
                continue
            bot = member[2:]
            recent = batch.bot_answered(thread, bot) or await conn.scalar(
                sa.select(sa.func.count()).where(
                    messages_table.c.conversation_id == thread.id,
                    messages_table.c.bot == bot,
                    messages_table.c.created_at > now - BOT_QUIET,
                )
            )
            text = await conn.scalar(sa.select(bots.c.message).where(bots.c.name == bot))
            if recent or not text:
                continue
            about = BotThread(thread.id, company, customer, thread.row.get("last_channel"),
                              thread.row.get("whatsapp_last_inbound_at"))  # fmt: skip
            row = await bot_row(conn, about, bot, text, now, self._templates)
            if isinstance(row, NotSent):
                batch.add_timeline([support.event_row(thread.id, "not_sent", "system", now, bot=bot,
                                                      reason=row.reason)])  # fmt: skip
                continue
            rows.append(row)
        if rows:
            batch.add_replies(thread, rows)
            batch.touch(thread, last_reply_at=now, last_message_at=now)
        return [str(row["id"]) for row in rows]

    async def _arm_timers(self, conn: AsyncConnection, batch: RoutingBatch, thread: Thread, config: Any) -> None:
        if not config.actions:
            return
        now = batch.now
        armed = on_inbound(config.actions, await batch.state(conn, thread), now)
        batch.add_timers(
            [{"conversation_id": thread.id, "action": a.name, "fire_at": at, "created_at": now} for a, at in armed]
        )


def _service_id(info: NumberRouting) -> int | None:
    return info.service.id if info.service is not None else None
