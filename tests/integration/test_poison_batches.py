"""One bad item in a group commit fails alone: the 20 good ones sharing its transaction are written (issue 9 §1).

Each group-committed path gets an item the database refuses, submitted together with 20 good ones so that they
share one batch: the accept path (Outbox), the inbound store (Inbox), channel outcomes, receipts and the campaign
journal (Deliveries). The poisons fail on SQLite and PostgreSQL alike (a foreign key, a naive time, a lone
surrogate, which no driver can encode), so the same test runs on both.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from parley.channels.base import Inbound, Receipt
from parley.services.delivery import Delivered, Deliveries, Failed
from parley.services.directory import DirectoryCache, User
from parley.services.receive import Inbox
from parley.services.send import Outbox, SendSms
from parley.store import messages
from parley.store.db import Database
from parley.store.tables import message_parts, receipts
from parley.store.tables import messages as messages_table
from tests.conftest import Clock
from tests.support.outbound import add_outbound
from tests.support.provisioning import provision

GOOD = 20


async def _together(calls: list[Awaitable[Any]]) -> list[Any]:
    """Start every call before any of them is flushed: they share one group commit."""
    return await asyncio.gather(*calls, return_exceptions=True)


def _only_failure(results: list[Any], index: int) -> None:
    failed = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == [index], [results[i] for i in failed]


async def _count(db: Database, table: sa.Table, *where: Any) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where)) or 0)


async def _alice(db: Database, clock: Clock) -> tuple[Outbox, User]:
    await provision(db, clock())
    cache = DirectoryCache(db, country="US", timezone="UTC")
    user = await cache.user("101")
    assert user is not None
    return Outbox(db, cache, clock), user


async def test_an_accept_the_database_refuses_fails_alone_and_the_20_others_are_queued(
    db: Database, clock: Clock
) -> None:
    outbox, alice = await _alice(db, clock)
    await outbox.send(SendSms(user=alice, destinations=["+15551234500"], text="warm the caches"))
    ghost = dataclasses.replace(alice, id=999_999)  # deleted meanwhile: its usage row breaks a foreign key
    sends = [SendSms(user=alice, destinations=[f"+155512346{i:02d}"], text=f"hello {i}") for i in range(GOOD)]
    sends.insert(5, SendSms(user=ghost, destinations=["+15551234699"], text="from a ghost"))
    results = await _together([outbox.send(s) for s in sends])
    _only_failure(results, 5)
    assert await _count(db, messages_table, messages_table.c.body.like("hello %")) == GOOD
    await outbox.close()


async def test_an_inbound_message_the_database_refuses_fails_alone_and_the_20_others_are_stored(
    db: Database, clock: Clock
) -> None:
    inbox = Inbox(db, clock)
    good = [Inbound(f"+155576543{i:02d}", "+15551230001", f"mo {i}", carrier_id=f"c{i}") for i in range(GOOD)]
    naive = Inbound("+15557654399", "+15551230001", "bad clock", received_at=datetime(2026, 1, 1))
    items = [*good[:10], naive, *good[10:]]
    results = await _together([inbox.receive("carrier", i) for i in items])
    _only_failure(results, 10)
    assert await _count(db, messages_table, messages_table.c.direction == "in") == GOOD
    await inbox.close()


async def test_a_customers_sms_with_a_nul_is_stored_cleaned_with_a_note_and_its_neighbours_are_stored(
    db: Database, clock: Clock
) -> None:
    """The finding: a deliver_sm with U+0000 failed its batch on every redelivery and took 40 other MOs with it."""
    inbox = Inbox(db, clock)
    good = [Inbound(f"+155576543{i:02d}", "+15551230001", f"mo {i}", carrier_id=f"c{i}") for i in range(GOOD)]
    poison = Inbound("+15557654399", "+15551230001", "a\x00b\ud800", carrier_id="c-nul\x00")
    results = await _together([inbox.receive("carrier", i) for i in [*good[:3], poison, *good[3:]]])
    assert not [r for r in results if isinstance(r, BaseException)]
    async with db.read() as conn:
        stored = await messages.find(conn, str(results[3]))
    assert stored is not None
    assert (stored.body, stored.carrier_id) == ("a\ufffdb\ufffd", "c-nul\ufffd")
    assert stored.error == "2 characters of the text could not be stored and were replaced by U+FFFD: U+0000, U+D800"
    assert await _count(db, messages_table, messages_table.c.direction == "in") == GOOD + 1
    # Delivered again (the carrier never got our answer): recognised by its cleaned carrier id, stored once.
    assert await inbox.receive("carrier", poison) == results[3]
    await inbox.close()


async def test_a_concatenated_sms_with_a_nul_in_an_early_part_keeps_the_note(db: Database, clock: Clock) -> None:
    inbox = Inbox(db, clock)
    part = {"concat_ref": "7", "concat_total": "2"}
    first = Inbound("+15557654399", "+15551230001", "hel\x00", extra={**part, "concat_seq": "1"})
    assert await inbox.receive("carrier", first) is None
    second = Inbound("+15557654399", "+15551230001", "lo", extra={**part, "concat_seq": "2"})
    message_id = await inbox.receive("carrier", second)
    async with db.read() as conn:
        stored = await messages.find(conn, str(message_id))
    assert stored is not None and stored.body == "hel\ufffdlo"
    assert stored.error == "characters the carrier sent in 1 of 2 parts could not be stored and were replaced by U+FFFD"
    await inbox.close()


async def _sending(db: Database, clock: Clock, count: int) -> list[str]:
    return await add_outbound(db, [f"m{i:03d}" for i in range(count)], now=clock(), status="sending")


async def _statuses(db: Database) -> dict[str, str]:
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(messages_table.c.id, messages_table.c.status))).all()
    return {r.id: r.status for r in rows}


async def test_an_outcome_the_database_refuses_fails_alone_and_the_20_others_are_recorded(
    db: Database, clock: Clock
) -> None:
    ids = await _sending(db, clock, GOOD + 1)
    deliveries = Deliveries(db, clock)
    outcomes: list[Any] = [Delivered(mid, "carrier", (f"c-{mid}",)) for mid in ids[:GOOD]]
    outcomes.insert(4, Failed(ids[GOOD], "carrier", "the carrier said \ud83d"))  # half an emoji: not encodable
    results = await _together([deliveries.record(o) for o in outcomes])
    _only_failure(results, 4)
    statuses = await _statuses(db)
    assert [statuses[mid] for mid in ids[:GOOD]] == ["sent"] * GOOD
    assert statuses[ids[GOOD]] == "sending"
    assert await _count(db, message_parts) == GOOD
    await deliveries.close()


async def test_a_receipt_the_database_refuses_fails_alone_and_the_20_others_are_applied(
    db: Database, clock: Clock
) -> None:
    ids = await _sending(db, clock, GOOD)
    deliveries = Deliveries(db, clock)
    for mid in ids:
        await deliveries.record(Delivered(mid, "carrier", (f"c-{mid}",)))
    items = [Receipt(f"c-{mid}", "delivered", "DELIVRD", "000") for mid in ids]
    items.insert(9, Receipt("c-\udc00", "delivered", "DELIVRD", "000"))
    results = await _together([deliveries.receipt("carrier", r) for r in items])
    _only_failure(results, 9)
    assert set((await _statuses(db)).values()) == {"delivered"}
    assert await _count(db, receipts) == GOOD
    await deliveries.close()


async def test_a_journal_mark_the_database_refuses_fails_alone_and_the_20_others_are_marked(
    db: Database, clock: Clock
) -> None:
    ids = await _sending(db, clock, GOOD)
    deliveries = Deliveries(db, clock)
    marks = [deliveries.submitting(mid) for mid in ids]
    marks.insert(0, deliveries.submitting("m\ud800"))
    results = await _together(marks)
    _only_failure(results, 0)
    assert set((await _statuses(db)).values()) == {"submitting"}
    await deliveries.close()


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_on_postgresql_a_nul_that_reached_a_batch_fails_alone(db: Database, clock: Clock) -> None:
    """PostgreSQL refuses U+0000 that SQLite stores: the mechanism holds for what no check foresaw."""
    ids = await _sending(db, clock, GOOD + 1)
    deliveries = Deliveries(db, clock)
    outcomes: list[Any] = [Failed(mid, "carrier", "rejected") for mid in ids[:GOOD]]
    outcomes.append(Failed(ids[GOOD], "carrier", "rejected\x00"))
    results = await _together([deliveries.record(o) for o in outcomes])
    _only_failure(results, GOOD)
    statuses = await _statuses(db)
    assert [statuses[mid] for mid in ids[:GOOD]] == ["failed"] * GOOD
    await deliveries.close()
