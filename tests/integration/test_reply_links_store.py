"""Reply links' service over each store (SQLite and PostgreSQL): open, post, count, presence."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from parley.core import reply_links as rules
from parley.services.directory import DirectoryCache
from parley.services.receive import Inbox
from parley.services.reply_links import LinkInvalid, RateLimited, ReplyLinks, mint
from parley.store import reply_links as store
from parley.store.db import Database
from parley.store.tables import messages
from tests.conftest import Clock
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
