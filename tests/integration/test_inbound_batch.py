"""Inbound messages stored and routed in batches: one transaction per batch, one message failing alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.channels.base import Inbound
from parley.services.events import EventBus, Subscription
from parley.services.inbound import MAX_ROUTE_ATTEMPTS, InboundRouter
from parley.services.receive import Inbox
from parley.store import blocks as block_store
from parley.store import conversations as store
from parley.store import timeline as timeline_store
from parley.store.db import Database
from parley.store.tables import blocklist, conversation_events, conversations, jobs, messages, optouts, participants
from parley.workers.router import RouterWorker
from tests.conftest import Clock
from tests.support.provisioning import provision

COMPANY = "+15551230001"
CUSTOMERS = ("+15557654321", "+15557654322", "+15557654323")


class FailingOn(InboundRouter):
    """A router whose database work fails for one text (a statement error inside the transaction)."""

    def __init__(self, *args: Any, text: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._text = text

    async def _keywords(
        self, conn: AsyncConnection, cid: str, company: str, customer: str, text: str, now: Any
    ) -> list[dict[str, Any]]:
        if text == self._text:
            await conn.execute(sa.text("SELECT * FROM no_such_table"))
        return await super()._keywords(conn, cid, company, customer, text, now)


class Harness:
    def __init__(self, db: Database, clock: Clock, router: type[InboundRouter] = InboundRouter, **kw: Any) -> None:
        self.db = db
        self.bus = EventBus()
        self.inbox = Inbox(db, clock)
        self.router = router(db, self.bus, clock, on_enqueued=lambda: None, **kw)
        self.worker = RouterWorker(db, self.router, clock, worker="test")

    async def store_together(self, *pairs: tuple[str, str], **extra: Any) -> list[str]:
        """Store messages concurrently: they go through one group commit, in this order."""
        results = await asyncio.gather(
            *(self.inbox.receive("carrier", Inbound(sender, COMPANY, text, **extra)) for sender, text in pairs)
        )
        assert all(r is not None for r in results)
        return [str(r) for r in results]

    async def rows(self) -> dict[str, Any]:
        async with self.db.read() as conn:
            found = (await conn.execute(sa.select(messages).where(messages.c.direction == "in"))).all()
        return {r.body: r for r in found}

    async def count(self, table: sa.Table, *where: Any) -> int:
        async with self.db.read() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where)) or 0)

    async def timeline(self, conversation_id: str) -> list[str]:
        async with self.db.read() as conn:
            return [e.kind for e in await timeline_store.events(conn, conversation_id)]


async def drain(sub: Subscription) -> list[tuple[str, str]]:
    out = []
    while not sub.queue.empty():
        event = sub.queue.get_nowait()
        out.append((event.type, str(event.data.get("message_id") or event.data.get("conversation_id"))))
    return out


@pytest.fixture
async def provisioned(db: Database, clock: Clock) -> Database:
    await provision(db, clock())
    return db


async def test_a_batch_where_one_message_fails_routes_the_others_and_keeps_the_failed_ones_job(
    provisioned: Database, clock: Clock
) -> None:
    h = Harness(provisioned, clock, FailingOn, text="boom")
    sub = await h.bus.subscribe(1, is_admin=True)
    ids = await h.store_together((CUSTOMERS[0], "one"), (CUSTOMERS[1], "boom"), (CUSTOMERS[0], "two"))
    assert await h.worker.route_due() == 3
    rows = await h.rows()
    assert rows["one"].conversation_id is not None
    assert rows["two"].conversation_id == rows["one"].conversation_id
    assert rows["boom"].conversation_id is None
    assert await h.count(jobs) == 1
    assert await h.count(jobs, jobs.c.message_id == ids[1]) == 1  # leased: routed again when the lease runs out
    assert await h.count(conversations) == 1  # the failed message's conversation was rolled back
    created = [m for kind, m in await drain(sub) if kind == "message.created"]
    assert created == [ids[0], ids[2]]
    assert await h.worker.route_due() == 0  # still leased
    clock.advance(minutes=2)
    assert await h.worker.route_due() == 1  # the lease ran out: tried again, fails again, alone
    assert (await h.rows())["one"].conversation_id == rows["one"].conversation_id
    await h.inbox.close()


async def test_a_message_that_keeps_failing_to_route_is_parked_with_its_reason_and_stops_looping(
    provisioned: Database, clock: Clock
) -> None:
    h = Harness(provisioned, clock, FailingOn, text="boom")
    ids = await h.store_together((CUSTOMERS[0], "one"), (CUSTOMERS[1], "boom"))
    assert await h.worker.route_due() == 2  # "one" is routed; "boom" fails (attempt 1)
    for _ in range(2, MAX_ROUTE_ATTEMPTS + 1):
        clock.advance(minutes=2)  # its lease runs out
        assert await h.worker.route_due() == 1
    assert await h.count(jobs) == 0  # parked: its route job is gone
    parked = (await h.rows())["boom"]
    assert parked.conversation_id is None
    assert parked.error.startswith(f"not routed: failed {MAX_ROUTE_ATTEMPTS} times (")
    clock.advance(minutes=2)
    assert await h.worker.route_due() == 0
    assert (await h.rows())["one"].conversation_id is not None and ids[0] != ids[1]
    await h.inbox.close()


async def test_a_batch_routes_a_customers_messages_in_arrival_order(provisioned: Database, clock: Clock) -> None:
    h = Harness(provisioned, clock)
    texts = ["hello", "STOP", "wait", "START", "thanks"]
    ids = await h.store_together(*((CUSTOMERS[0], t) for t in texts))
    assert ids == sorted(ids)  # ids, which the router routes by, follow arrival order within a group commit
    assert await h.worker.route_due() == 5
    rows = await h.rows()
    [cid] = {r.conversation_id for r in rows.values()}
    assert await h.timeline(cid) == ["opened", "joined", "opted_out", "opted_in"]
    async with h.db.read() as conn:
        optout = (await conn.execute(sa.select(optouts))).one()
        conversation = await store.find(conn, cid)
    assert (optout.opted_out, optout.keyword) == (False, "START")  # START came last
    assert await h.count(blocklist) == 0
    assert conversation is not None and conversation.last_inbound_at == rows["thanks"].created_at
    await h.inbox.close()


async def test_two_messages_from_a_new_customer_in_one_batch_open_one_conversation(
    provisioned: Database, clock: Clock
) -> None:
    h = Harness(provisioned, clock)
    sub = await h.bus.subscribe(1, is_admin=True)
    ids = await h.store_together((CUSTOMERS[0], "first"), (CUSTOMERS[0], "second"), (CUSTOMERS[1], "other"))
    assert await h.worker.route_due() == 3
    rows = await h.rows()
    assert await h.count(conversations) == 2
    assert rows["first"].conversation_id == rows["second"].conversation_id != rows["other"].conversation_id
    cid = rows["first"].conversation_id
    assert await h.timeline(cid) == ["opened", "joined"]  # once; Alice (101), the static member with a license
    assert await h.count(participants, participants.c.conversation_id == cid) == 1
    assert await h.count(jobs) == 0
    events = await drain(sub)
    assert [m for kind, m in events if kind == "message.created"] == ids
    assert ("conversation.updated", cid) in events
    await h.inbox.close()


async def test_a_batch_mixes_blocked_unrouted_and_routed_messages(provisioned: Database, clock: Clock) -> None:
    h = Harness(provisioned, clock)
    async with h.db.write() as conn:
        await block_store.block(conn, COMPANY, CUSTOMERS[2], by=None, now=clock())
    stored = await asyncio.gather(
        h.inbox.receive("carrier", Inbound(CUSTOMERS[0], COMPANY, "routed")),
        h.inbox.receive("carrier", Inbound(CUSTOMERS[1], "+15559990000", "nowhere")),
        h.inbox.receive("carrier", Inbound(CUSTOMERS[2], COMPANY, "blocked")),
    )
    assert None not in stored
    assert await h.worker.route_due() == 3
    rows = await h.rows()
    assert rows["routed"].conversation_id is not None and rows["routed"].status == "received"
    assert rows["nowhere"].conversation_id is None and "not a company number" in rows["nowhere"].error
    assert rows["blocked"].status == "blocked" and rows["blocked"].conversation_id is not None
    assert (
        await h.count(conversation_events, conversation_events.c.conversation_id == rows["blocked"].conversation_id)
        == 0
    )
    assert await h.count(jobs) == 0
    await h.inbox.close()


async def test_the_same_carrier_message_twice_in_one_group_commit_is_stored_once(
    provisioned: Database, clock: Clock
) -> None:
    h = Harness(provisioned, clock)
    first, second = await h.store_together((CUSTOMERS[0], "hi"), (CUSTOMERS[0], "hi"), carrier_id="SM1")
    assert first == second
    again = await h.inbox.receive("carrier", Inbound(CUSTOMERS[0], COMPANY, "hi", carrier_id="SM1"))
    assert again == first
    assert await h.count(messages) == 1
    assert await h.count(jobs) == 1
    await h.inbox.close()


async def test_routing_a_message_again_changes_nothing(provisioned: Database, clock: Clock) -> None:
    h = Harness(provisioned, clock)
    [message_id] = await h.store_together((CUSTOMERS[0], "hello"))
    await h.router.route_many([message_id])
    await h.router.route_many([message_id, "00000000000000000000"])  # routed already; one that does not exist
    assert await h.count(conversations) == 1
    assert await h.count(conversation_events) == 2
    await h.inbox.close()
