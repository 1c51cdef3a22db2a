"""Inbound routing by working hours, and timed actions, with an injected clock (no sleeping)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from parley.channels.base import Inbound
from parley.core.provisioning import parse
from parley.services.events import EventBus
from parley.services.inbound import InboundRouter
from parley.services.provisioning import apply
from parley.services.receive import Inbox
from parley.services.timers import Timers
from parley.store import conversations as store
from parley.store import participants as participant_store
from parley.store.db import Database
from parley.store.tables import conversation_events, messages, participants, timers
from tests.conftest import Clock
from tests.support.provisioning import document

COMPANY, CUSTOMER = "+15551230001", "+15557654321"
# 2026-11-24 is a Tuesday; the clock starts at 12:00 UTC = 07:00 in New York.
HOURS = {"timezone": "America/New_York", "rules": [{"days": ["mon-fri"], "ranges": ["09:00-17:00"]}]}


def setup_doc(**number: Any) -> dict[str, Any]:
    doc = document()
    doc["users"].append({"extension": "104", "name": "Dora Diaz", "password": "dora-secret", "license": "business"})
    doc["services"] = [{"name": "Support", "static_members": ["101", "104"], "sms_number": COMPANY}]
    doc["bots"] = [{"name": "Night bot", "message": "Closed"}, {"name": "Helper", "message": "unused"}]
    doc["numbers"] = [{"number": COMPANY, "linked_service": "Support", **number}]
    return doc


class Harness:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock
        bus = EventBus()
        self.inbox = Inbox(db, clock)
        self.router = InboundRouter(db, bus, clock, on_enqueued=lambda: None)
        self.timers = Timers(db, bus, clock, on_enqueued=lambda: None)

    async def inbound(self, text: str) -> str:
        message_id = await self.inbox.receive("carrier", Inbound(CUSTOMER, COMPANY, text))
        assert message_id is not None
        await self.router.route(message_id)
        return message_id

    async def members(self) -> list[str]:
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(participants.c.member).where(participants.c.active.is_(True)))).all()
        return sorted(r.member for r in rows)

    async def bot_messages(self) -> list[str]:
        async with self.db.read() as conn:
            query = sa.select(messages.c.body).where(messages.c.bot.is_not(None)).order_by(messages.c.id)
            return list((await conn.execute(query)).scalars())

    async def close(self) -> None:
        await self.inbox.close()


@pytest.fixture
async def harness(db: Database, clock: Clock) -> Harness:
    return Harness(db, clock)


async def provision(db: Database, clock: Clock, **number: Any) -> None:
    await apply(db, parse(setup_doc(**number)), now=clock())


async def test_out_of_hours_the_bot_joins_and_answers_and_in_hours_the_agent_joins(
    db: Database, clock: Clock, harness: Harness
) -> None:
    await provision(
        db, clock, hours=HOURS, routing={"type": "agent", "target": "104"},
        out_of_hours={"type": "bot", "target": "Night bot"},
    )  # fmt: skip
    await harness.inbound("Hello at 7am")
    assert await harness.members() == ["b:Night bot"]
    assert await harness.bot_messages() == ["Closed"]
    clock.advance(hours=3)  # 10:00 in New York: open
    await harness.inbound("Hello at 10am")
    assert await harness.members() == ["b:Night bot", "u:4"]
    assert await harness.bot_messages() == ["Closed"]  # the bot answers only out of hours
    await harness.close()


async def test_a_no_reply_action_fires_when_nobody_answers_and_survives_a_restart(
    db: Database, clock: Clock, harness: Harness
) -> None:
    action = {
        "name": "Nudge",
        "conditions": [{"type": "no_reply", "after": "5m"}],
        "task": {"bot": "Helper", "message": "An agent will be with you shortly"},
        "once_per_conversation": True,
    }
    await provision(db, clock, actions=[action])
    await harness.inbound("Anyone?")
    clock.advance(minutes=4)
    assert await harness.timers.fire_due() == 0
    clock.advance(minutes=2)
    restarted = Timers(db, EventBus(), clock, on_enqueued=lambda: None)  # a new process: only the rows remain
    assert await restarted.fire_due() == 1
    assert await harness.bot_messages() == ["An agent will be with you shortly"]
    await harness.inbound("Still there?")
    clock.advance(minutes=10)
    await restarted.fire_due()
    assert await harness.bot_messages() == ["An agent will be with you shortly"]  # once per conversation
    async with db.read() as conn:
        outcomes = (await conn.execute(sa.select(timers.c.outcome).order_by(timers.c.id))).scalars().all()
    assert outcomes == ["fired"]  # a once-only action that ran is not armed again
    await harness.close()


async def test_a_timer_whose_condition_stopped_holding_is_cancelled(
    db: Database, clock: Clock, harness: Harness
) -> None:
    action = {"name": "Escalate", "conditions": [{"type": "no_reply", "after": "1m"}], "task": {"add_members": ["101"]}}
    await provision(db, clock, routing={"type": "agent", "target": "104"}, actions=[action])
    await harness.inbound("Help")
    async with db.write() as conn:
        [conversation] = await store.list_(conn, store.ConversationFilter())
        await store.update(conn, conversation.id, last_reply_at=clock())  # an agent replied
    clock.advance(minutes=2)
    assert await harness.timers.fire_due() == 1
    assert await harness.members() == ["u:4"]
    async with db.read() as conn:
        assert await conn.scalar(sa.select(timers.c.outcome)) == "cancelled"
    await harness.close()


async def test_an_add_members_action_adds_them_when_nobody_replied(
    db: Database, clock: Clock, harness: Harness
) -> None:
    action = {"name": "Escalate", "conditions": [{"type": "no_reply", "after": "1m"}], "task": {"add_members": ["101"]}}
    await provision(db, clock, routing={"type": "agent", "target": "104"}, actions=[action])
    await harness.inbound("Help")
    clock.advance(minutes=2)
    assert await harness.timers.fire_due() == 1
    assert await harness.members() == ["u:1", "u:4"]
    async with db.read() as conn:
        kinds = (await conn.execute(sa.select(conversation_events.c.kind))).scalars().all()
    assert "action" in kinds
    await harness.close()


async def test_a_routed_agent_who_left_is_re_added_by_the_next_message(
    db: Database, clock: Clock, harness: Harness
) -> None:
    await provision(db, clock, routing={"type": "agent", "target": "104"})
    await harness.inbound("one")
    async with db.write() as conn:
        [conversation] = await store.list_(conn, store.ConversationFilter())
        await participant_store.drop_member(conn, conversation.id, "u:4", now=clock(), by_agent=False)
    assert await harness.members() == []
    await harness.inbound("two")
    assert await harness.members() == ["u:4"]
    await harness.close()


async def test_the_same_carrier_message_delivered_twice_is_stored_once(
    db: Database, clock: Clock, harness: Harness
) -> None:
    await provision(db, clock)
    first = await harness.inbox.receive("carrier", Inbound(CUSTOMER, COMPANY, "hi", carrier_id="SM123"))
    second = await harness.inbox.receive("carrier", Inbound(CUSTOMER, COMPANY, "hi", carrier_id="SM123"))
    assert first == second
    async with db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(messages)) == 1
    await harness.close()
