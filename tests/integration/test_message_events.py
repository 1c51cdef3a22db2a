"""`message.created` events carry the message, also across processes through PostgreSQL's NOTIFY."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import pytest

from parley.ingress.events_api import event_data
from parley.services.events import Event, EventBus, postgres_dsn
from parley.services.notifications import MessageDetails
from parley.store import messages
from parley.store.db import Database
from tests.conftest import Clock


async def _message(db: Database, now: datetime, body: str) -> str:
    row = {
        "id": "0000000000000000abcd", "direction": "in", "user_id": None, "sender": "+15557654321",
        "recipient": "+15551230001", "body": body, "status": "received", "segments": 1, "encoding": "ucs2",
        "gsm": None, "transport": "webhook", "error": None, "charge": None, "currency": None, "source": "webhook",
        "send_at": None, "conversation_id": None, "bot": None, "carrier_id": "c-1", "created_at": now,
        "updated_at": now,
    }  # fmt: skip
    async with db.write() as conn:
        await messages.add_all(conn, [row])
    return str(row["id"])


async def test_a_message_created_event_carries_the_message_as_the_timeline_shows_it(
    db: Database, db_url: str, clock: Clock
) -> None:
    body = "é" * 1600  # over NOTIFY's 8,000 bytes once JSON-escaped: it never travels through it
    message_id = await _message(db, clock(), body)
    bus = EventBus(postgres_dsn(db_url), expand=MessageDetails(db))
    try:
        stream = await bus.subscribe(1, is_admin=True)
        await bus.publish([Event("message.created", {"conversation_id": "c1", "message_id": message_id}, frozenset())])
        event = await asyncio.wait_for(stream.queue.get(), 10)
    finally:
        await bus.close()
    assert event.data["message"]["body"] == body
    rendered = event_data(event)
    assert '"from": "+15557654321"' in rendered and '"direction": "in"' in rendered and '"history": null' in rendered


@pytest.mark.parametrize("kind", ["message.status", "conversation.updated"])
async def test_other_events_go_out_as_they_are(db: Database, kind: str) -> None:
    event = Event(kind, {"conversation_id": "c1", "message_id": "nope"}, frozenset())
    assert await MessageDetails(db)([event]) == [event]


@pytest.mark.postgres
async def test_events_published_at_once_go_out_in_few_statements_and_in_order(pg_database: str) -> None:
    """Many concurrent publishers share NOTIFY statements (group commit); a listener gets every event, each
    publisher's in its order."""
    bus = EventBus(postgres_dsn(pg_database))
    statements: list[str] = []
    try:
        stream = await bus.subscribe(1, is_admin=True)
        original = bus._notify_all

        async def counted(batches: list[Sequence[Event]]) -> list[None]:
            statements.append(f"{sum(len(b) for b in batches)} events")
            return await original(batches)

        bus._notifier._flush = counted  # count the statements (each flush is one)

        def status(publisher: int, n: int) -> Event:
            return Event("message.status", {"message_id": f"m{publisher}", "status": str(n)}, frozenset())

        await asyncio.gather(*(bus.publish([status(p, n)]) for n in range(5) for p in range(40)))
        got = [await asyncio.wait_for(stream.queue.get(), 10) for _ in range(200)]
    finally:
        await bus.close()
    assert len(statements) < 20, statements
    for publisher in range(40):
        mine = [e.data["status"] for e in got if e.data["message_id"] == f"m{publisher}"]
        assert mine == ["0", "1", "2", "3", "4"]


async def test_publishing_after_close_is_dropped_not_an_error() -> None:
    bus = EventBus()
    await bus.close()
    await bus.publish([Event("message.status", {"message_id": "m1"}, frozenset())])
