"""A participant who left or was removed sees the conversation as it was when he left (issue 10): timeline,
unread counts, the inbox list's last message and search, and live events — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from parley.channels.base import Inbound
from parley.services.conversations import Conversations
from parley.services.directory import DirectoryCache, User
from parley.services.events import EventBus, Subscription
from parley.services.inbound import InboundRouter
from parley.services.inbox_view import InboxQuery, InboxView
from parley.services.receive import Inbox
from parley.services.send import Outbox
from parley.store.conversations import ConversationFilter
from parley.store.db import Database
from tests.conftest import Clock
from tests.support.provisioning import BASE, provision

COMPANY, CUSTOMER = "+15551230001", "+15557650001"


@dataclass
class Desk:
    clock: Clock
    bus: EventBus
    view: InboxView
    conversations: Conversations
    inbox: Inbox
    router: InboundRouter
    alice: User
    bob: User

    async def inbound(self, text: str) -> None:
        self.clock.advance(seconds=1)
        message_id = await self.inbox.receive("carrier", Inbound(CUSTOMER, COMPANY, text))
        assert message_id is not None
        await self.router.route(message_id)

    async def reply(self, who: User, cid: str, text: str) -> None:
        self.clock.advance(seconds=1)
        await self.conversations.post(who, cid, text)


@pytest.fixture
async def desk(db: Database, clock: Clock) -> AsyncIterator[Desk]:
    users = [{**u, "license": "business"} if u["extension"] == "102" else u for u in BASE["users"]]
    await provision(db, clock(), users=users)
    bus = EventBus()
    cache = DirectoryCache(db, country="US", timezone="UTC", ttl=0)
    outbox = Outbox(db, cache, clock, on_enqueued=lambda: None)
    alice, bob = await cache.user("101"), await cache.user("102")
    assert alice is not None and bob is not None
    desk = Desk(
        clock, bus, InboxView(db, cache, clock), Conversations(db, cache, outbox, bus, clock), Inbox(db, clock),
        InboundRouter(db, bus, clock, on_enqueued=lambda: None), alice, bob,
    )  # fmt: skip
    try:
        yield desk
    finally:
        await desk.inbox.close()
        await outbox.close()


async def removed_bob(desk: Desk) -> str:
    """Bob and Alice talk to the customer; Alice removes Bob; the conversation goes on without him."""
    await desk.inbound("my order is late")
    [conversation] = await desk.conversations.list_(desk.bob, ConversationFilter())
    cid = str(conversation["id"])
    await desk.reply(desk.bob, cid, "before: looking into it")
    await desk.conversations.open(desk.alice, CUSTOMER, "Support")
    desk.clock.advance(seconds=1)
    await desk.conversations.remove_member(desk.alice, cid, "102")
    await desk.inbound("after: my card ends 4242")
    await desk.reply(desk.alice, cid, "after: refund issued")
    return cid


async def test_a_removed_member_reads_the_timeline_only_up_to_his_removal(desk: Desk) -> None:
    cid = await removed_bob(desk)
    found = await desk.conversations.timeline(desk.bob, cid)
    assert [m.body for m in found["messages"]] == ["my order is late", "before: looking into it"]
    assert [e.kind for e in found["events"]][-1] == "removed"
    everything = await desk.conversations.timeline(desk.alice, cid)
    assert [m.body for m in everything["messages"]][-2:] == ["after: my card ends 4242", "after: refund issued"]


async def test_a_removed_member_counts_no_unread_after_his_removal(desk: Desk) -> None:
    await removed_bob(desk)
    [listed] = await desk.conversations.list_(desk.bob, ConversationFilter())
    assert listed["unread"] == 1  # "my order is late", which he never marked read
    [row] = (await desk.view.page(desk.bob, InboxQuery())).rows
    assert row.unread == 1


async def test_the_inbox_list_shows_a_removed_member_the_last_message_he_saw(desk: Desk) -> None:
    await removed_bob(desk)
    [row] = (await desk.view.page(desk.bob, InboxQuery())).rows
    assert row.last_text == "before: looking into it"
    [alices] = (await desk.view.page(desk.alice, InboxQuery())).rows
    assert alices.last_text == "after: refund issued"
    assert (await desk.view.page(desk.bob, InboxQuery(search="4242"))).rows == []
    assert len((await desk.view.page(desk.bob, InboxQuery(search="looking into"))).rows) == 1


async def test_a_removed_member_gets_no_live_events_of_the_conversation(desk: Desk) -> None:
    bobs: Subscription = await desk.bus.subscribe(desk.bob.id, False)
    cid = await removed_bob(desk)
    seen: list[str] = []
    while not bobs.queue.empty():
        event = bobs.queue.get_nowait()
        seen.append(f"{event.type} {event.data.get('message_id', '')}")
    after = (await desk.conversations.timeline(desk.alice, cid))["messages"][-2:]
    assert seen, "Bob heard the conversation while he was in it"
    assert not any(m.id in line for m in after for line in seen)
