"""Reply links' service over each store (SQLite and PostgreSQL): open, post, count, presence."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from parley.core import reply_links as rules
from parley.core.provisioning import parse
from parley.services.directory import DirectoryCache
from parley.services.events import EventBus
from parley.services.inbound import InboundRouter
from parley.services.provisioning import apply
from parley.services.receive import Inbox
from parley.services.reply_links import LinkInvalid, RateLimited, ReplyLinks, mint
from parley.store import reply_links as store
from parley.store.db import Database
from parley.store.tables import jobs, messages
from tests.conftest import Clock
from tests.integration.test_routing_and_timers import HOURS, setup_doc
from tests.support.provisioning import provision

COMPANY, ANN = "+15551230001", "+15557654321"


async def test_a_link_opens_takes_posts_within_its_limits_and_marks_presence(db: Database, clock: Clock) -> None:
    await provision(db, clock())
    inbox = Inbox(db, clock)
    links = ReplyLinks(db, DirectoryCache(db, country="US", timezone="UTC"), inbox, clock)
    row, url = mint("https://sms.example.com", COMPANY, ANN, None, clock(), 30)
    async with db.write() as conn:
        await store.add_all(conn, [row])
    token = url.rsplit("/", 1)[1]
    chat = await links.open(token)
    assert (chat.company_name, chat.customer, chat.company_number) == ("Parley", ANN, COMPANY)
    for i in range(rules.RATES["link"].posts):
        await links.post(token, f"hello {i}", "192.0.2.1")
    with pytest.raises(RateLimited):
        await links.post(token, "one too many", "192.0.2.2")
    async with db.read() as conn:
        bodies = (await conn.execute(sa.select(messages.c.body, messages.c.channel))).all()
    assert len(bodies) == rules.RATES["link"].posts and {b.channel for b in bodies} == {"web"}
    assert not await links.customer_present(COMPANY, ANN)
    await links.present(chat.link_id, True)
    assert await links.customer_present(COMPANY, ANN)
    clock.advance(seconds=46)  # a page that stopped renewing its mark is away
    assert not await links.customer_present(COMPANY, ANN)
    clock.advance(days=30)
    with pytest.raises(LinkInvalid) as expired:
        await links.open(token)
    assert expired.value.status == 410
    await inbox.close()


async def test_an_out_of_hours_bot_answers_on_the_page_while_the_customer_is_there(db: Database, clock: Clock) -> None:
    await apply(db, parse(setup_doc(hours=HOURS, out_of_hours={"type": "bot", "target": "Night bot"})), now=clock())
    bus = EventBus()
    heard = await bus.subscribe(0, False, accepts=lambda e: e.type == "message.created")
    inbox = Inbox(db, clock)
    router = InboundRouter(db, bus, clock, on_enqueued=lambda: None)
    links = ReplyLinks(db, DirectoryCache(db, country="US", timezone="UTC"), inbox, clock)
    row, url = mint("https://sms.example.com", COMPANY, ANN, None, clock(), 30)
    async with db.write() as conn:
        await store.add_all(conn, [row])
    chat = await links.open(url.rsplit("/", 1)[1])
    await links.present(chat.link_id, True)
    posted = await links.post(url.rsplit("/", 1)[1], "Open at 7am?", "192.0.2.1")
    await router.route(posted)
    async with db.read() as conn:
        answers = (await conn.execute(sa.select(messages).where(messages.c.bot == "Night bot"))).all()
        jobs_of = set((await conn.execute(sa.select(jobs.c.message_id))).scalars())
    assert [(a.body, a.channel, a.status) for a in answers] == [("Closed", "web", "delivered")]
    assert answers[0].id not in jobs_of
    told = {heard.queue.get_nowait().data["message_id"] for _ in range(heard.queue.qsize())}
    assert told == {posted, answers[0].id}  # the page hears the bot's answer as it comes
    await inbox.close()
