"""The inbox's list query and read model on SQLite and PostgreSQL: visibility, last message, unread counts,
filters, keyset pages, and postponed replies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from parley.channels.base import Inbound
from parley.services.conversations import Conversations
from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.services.events import EventBus
from parley.services.inbound import InboundRouter
from parley.services.inbox_view import InboxQuery, InboxView
from parley.services.receive import Inbox
from parley.services.send import Outbox
from parley.store.db import Database
from tests.conftest import Clock
from tests.support.provisioning import BASE, provision

COMPANY = "+15551230001"
CUSTOMERS = ("+15557650001", "+15557650002", "+15557650003")


@dataclass
class Desk:
    clock: Clock
    view: InboxView
    conversations: Conversations
    inbox: Inbox
    router: InboundRouter
    cache: DirectoryCache

    async def user(self, extension: str) -> User:
        found = await self.cache.user(extension)
        assert found is not None
        return found

    async def inbound(self, customer: str, text: str) -> None:
        self.clock.advance(seconds=1)
        message_id = await self.inbox.receive("carrier", Inbound(customer, COMPANY, text))
        assert message_id is not None
        await self.router.route(message_id)


@pytest.fixture
async def desk(db: Database, clock: Clock) -> AsyncIterator[Desk]:
    # Bob takes conversations: a business license (the base document gives him essential).
    users = [{**u, "license": "business"} if u["extension"] == "102" else u for u in BASE["users"]]
    await provision(db, clock(), users=users)
    bus = EventBus()
    cache = DirectoryCache(db, country="US", timezone="UTC", ttl=0)
    outbox = Outbox(db, cache, clock, on_enqueued=lambda: None)
    desk = Desk(
        clock=clock,
        view=InboxView(db, cache, clock),
        conversations=Conversations(db, cache, outbox, bus, clock),
        inbox=Inbox(db, clock),
        router=InboundRouter(db, bus, clock, on_enqueued=lambda: None),
        cache=cache,
    )
    try:
        yield desk
    finally:
        await desk.inbox.close()
        await outbox.close()


async def test_the_list_carries_last_message_and_unread_count_newest_first(desk: Desk) -> None:
    for customer in CUSTOMERS:
        await desk.inbound(customer, f"hello from {customer[-1]}")
    await desk.inbound(CUSTOMERS[0], "and again")
    bob = await desk.user("102")

    page = await desk.view.page(bob, InboxQuery())

    assert [r.external_number for r in page.rows] == [CUSTOMERS[0], CUSTOMERS[2], CUSTOMERS[1]]
    first = page.rows[0]
    assert (first.last_text, first.last_direction, first.unread, first.service) == ("and again", "in", 2, "Support")
    assert page.next_cursor is None


async def test_an_agent_sees_only_his_conversations_and_an_admin_sees_all(desk: Desk) -> None:
    await desk.inbound(CUSTOMERS[0], "hi")
    alice, bob, carl = await desk.user("101"), await desk.user("102"), await desk.user("103")
    conversation = (await desk.view.page(alice, InboxQuery())).rows[0]
    await desk.conversations.leave(bob, conversation.id)

    assert [r.id for r in (await desk.view.page(carl, InboxQuery())).rows] == []  # never a participant
    # Bob left: still listed (he was in it) but no longer "mine".
    assert [r.id for r in (await desk.view.page(bob, InboxQuery())).rows] == [conversation.id]
    assert (await desk.view.page(bob, InboxQuery(filter="mine"))).rows == []
    assert [r.id for r in (await desk.view.page(alice, InboxQuery(filter="mine"))).rows] == [conversation.id]


async def test_pages_follow_the_cursor_without_gaps_or_repeats(desk: Desk) -> None:
    for customer in CUSTOMERS:
        await desk.inbound(customer, "hi")
    bob = await desk.user("102")

    first = await desk.view.page(bob, InboxQuery(limit=2))
    assert first.next_cursor is not None
    second = await desk.view.page(bob, InboxQuery(limit=2, after=first.next_cursor))

    assert [r.external_number for r in first.rows + second.rows] == list(reversed(CUSTOMERS))
    assert second.next_cursor is None


async def test_filters_unread_search_and_assignment(desk: Desk) -> None:
    await desk.inbound(CUSTOMERS[0], "Where is my parcel?")
    await desk.inbound(CUSTOMERS[1], "Thanks a lot")
    bob = await desk.user("102")
    rows = {r.external_number: r.id for r in (await desk.view.page(bob, InboxQuery())).rows}
    await desk.conversations.read(bob, rows[CUSTOMERS[1]])
    await desk.conversations.assign(bob, rows[CUSTOMERS[0]], "102")

    async def numbers(**q: object) -> list[str]:
        return [r.external_number for r in (await desk.view.page(bob, InboxQuery(**q))).rows]  # type: ignore[arg-type]

    assert await numbers(unread_only=True) == [CUSTOMERS[0]]
    assert await numbers(search="PARCEL") == [CUSTOMERS[0]]  # case does not matter
    assert await numbers(search="parcel") == [CUSTOMERS[0]]
    assert await numbers(search="7650002") == [CUSTOMERS[1]]
    assert await numbers(search="%") == []  # a wildcard is a character, not "anything"
    assert await numbers(filter="assigned") == [CUSTOMERS[0]]
    assert await numbers(filter="unassigned") == [CUSTOMERS[1]]
    assert await numbers(company_number="+15550000000") == []
    services = await desk.view.sms_services()
    assert [s.name for s in services] == ["Support"]
    assert await numbers(service_id=services[0].id) == [CUSTOMERS[1], CUSTOMERS[0]]


async def test_a_postponed_reply_is_scheduled_and_a_past_time_is_refused(desk: Desk, clock: Clock) -> None:
    await desk.inbound(CUSTOMERS[0], "Call me tomorrow")
    alice = await desk.user("101")
    cid = (await desk.view.page(alice, InboxQuery())).rows[0].id

    with pytest.raises(ServiceError) as refused:
        await desk.view.send_time("2020-01-01T09:00")
    assert refused.value.field == "send_at"
    at = await desk.view.send_time((clock() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    posted = await desk.conversations.post(alice, cid, "Calling at nine", send_at=at)

    assert posted.message is not None
    assert posted.message["status"] == "scheduled"
    found = await desk.conversations.timeline(alice, cid)
    assert [(m.body, m.send_at) for m in found["messages"] if m.direction == "out"] == [("Calling at nine", at)]


async def test_assignable_people_are_the_services_members(desk: Desk) -> None:
    assert [a.extension for a in await desk.view.assignable("Support")] == ["101", "102"]
    assert await desk.view.assignable(None) == []
