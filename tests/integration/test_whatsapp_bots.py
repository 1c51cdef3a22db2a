"""Bots on WhatsApp (issue 12 §4): a customer who wrote on WhatsApp is answered there; a timed action that fires once
the 24-hour window is closed records that it could not send (never a silent failure)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from parley.channels.base import Inbound
from parley.core.provisioning import parse
from parley.core.whatsapp_templates import TemplateRow
from parley.services.directory import DirectoryCache
from parley.services.events import EventBus
from parley.services.inbound import InboundRouter
from parley.services.provisioning import apply
from parley.services.receive import Inbox
from parley.services.timers import Timers
from parley.services.whatsapp_templates import WhatsAppTemplates
from parley.store import whatsapp_templates as whatsapp_templates_store
from parley.store.db import Database
from parley.store.tables import conversation_events, messages
from tests.conftest import Clock
from tests.integration.test_routing_and_timers import COMPANY, CUSTOMER, HOURS, setup_doc

NUDGE = {
    "name": "Nudge",
    "conditions": [{"type": "no_reply", "after": "10m"}],
    "task": {"bot": "Helper", "message": "An agent will be with you shortly"},
    "once_per_conversation": True,
}


async def provision(db: Database, clock: Clock, **number: Any) -> None:
    doc = setup_doc(whatsapp=True, **number)
    doc["transports"] = [{"name": "wa-main", "role": "whatsapp", "kind": "whatsapp", "number": COMPANY,
                          "phone_number_id": "1065", "waba_id": "1022", "access_token": "t", "app_secret": "s",
                          "verify_token": "v"}]  # fmt: skip
    await apply(db, parse(doc), now=clock())


async def on_whatsapp(db: Database, clock: Clock, text: str, written: datetime) -> None:
    inbox = Inbox(db, clock)
    try:
        inbound = Inbound(CUSTOMER, COMPANY, text, carrier_id=f"wamid.{text}", received_at=written, channel="whatsapp")
        message_id = await inbox.receive("wa-main", inbound, source="whatsapp")
    finally:
        await inbox.close()
    assert message_id is not None
    await InboundRouter(db, EventBus(), clock, on_enqueued=lambda: None).route(message_id)


async def bot_rows(db: Database) -> list[tuple[str, str]]:
    async with db.read() as conn:
        query = sa.select(messages.c.body, messages.c.channel).where(messages.c.bot.is_not(None))
        return [(r.body, r.channel) for r in (await conn.execute(query.order_by(messages.c.id))).all()]


async def test_out_of_hours_the_bot_answers_a_whatsapp_message_on_whatsapp(db: Database, clock: Clock) -> None:
    await provision(db, clock, hours=HOURS, routing={"type": "agent", "target": "104"},
                    out_of_hours={"type": "bot", "target": "Night bot"})  # fmt: skip
    await on_whatsapp(db, clock, "Hello at 7am", clock())
    assert await bot_rows(db) == [("Closed", "whatsapp")]


async def test_a_timed_action_inside_the_window_goes_on_whatsapp(db: Database, clock: Clock) -> None:
    await provision(db, clock, routing={"type": "agent", "target": "104"}, actions=[NUDGE])
    await on_whatsapp(db, clock, "Anyone?", clock())
    clock.advance(minutes=11)
    assert await Timers(db, EventBus(), clock, on_enqueued=lambda: None).fire_due() == 1
    assert await bot_rows(db) == [("An agent will be with you shortly", "whatsapp")]


async def test_a_timed_action_after_the_window_closed_records_why_it_could_not_send(db: Database, clock: Clock) -> None:
    await provision(db, clock, routing={"type": "agent", "target": "104"}, actions=[NUDGE])
    written = clock() - timedelta(hours=23, minutes=55)  # Meta's timestamp: the window closes in 5 minutes
    await on_whatsapp(db, clock, "Late question", written)
    clock.advance(minutes=11)
    assert await Timers(db, EventBus(), clock, on_enqueued=lambda: None).fire_due() == 1
    assert await bot_rows(db) == []
    async with db.read() as conn:
        found = await conn.execute(sa.select(conversation_events).where(conversation_events.c.kind == "not_sent"))
        events = found.all()
    assert len(events) == 1
    assert events[0].detail["bot"] == "Helper" and "has no whatsapp_template" in events[0].detail["reason"]
    assert (written + timedelta(hours=24)).isoformat().replace("+00:00", "Z") in events[0].detail["reason"]


def no_channel(row: Any) -> Any:
    raise AssertionError(f"resolving a template must not call Meta ({row.name})")


async def test_outside_the_window_a_bot_with_a_whatsapp_template_sends_it(db: Database, clock: Clock) -> None:
    doc = setup_doc(whatsapp=True, routing={"type": "agent", "target": "104"}, actions=[NUDGE])
    template = {"name": "still_there", "variables": ["Support"]}
    doc["bots"] = [{"name": "Night bot", "message": "Closed"},
                   {"name": "Helper", "message": "unused", "whatsapp_template": template}]  # fmt: skip
    doc["transports"] = [{"name": "wa-main", "role": "whatsapp", "kind": "whatsapp", "number": COMPANY,
                          "phone_number_id": "1065", "waba_id": "1022", "access_token": "t", "app_secret": "s",
                          "verify_token": "v"}]  # fmt: skip
    await apply(db, parse(doc), now=clock())
    body = {"type": "BODY", "text": "{{1}} has not forgotten you: reply to carry on."}
    synced = TemplateRow("1022", "still_there", "en_US", "utility", "approved", (body,), synced_at=clock())
    async with db.write() as conn:
        await whatsapp_templates_store.replace(conn, "1022", [synced])
    templates = WhatsAppTemplates(
        db, DirectoryCache(db, country="US", timezone="America/New_York"), clock, no_channel
    )  # resolve reads only the last sync
    await on_whatsapp(db, clock, "Late question", clock() - timedelta(hours=23, minutes=55))
    clock.advance(minutes=11)
    assert await Timers(db, EventBus(), clock, on_enqueued=lambda: None, templates=templates).fire_due() == 1
    async with db.read() as conn:
        row = (await conn.execute(sa.select(messages).where(messages.c.bot == "Helper"))).one()
    assert (row.channel, row.body) == ("whatsapp", "Support has not forgotten you: reply to carry on.")
    assert row.template == {"name": "still_there", "language": "en_US", "variables": ["Support"], "header_media": None}
