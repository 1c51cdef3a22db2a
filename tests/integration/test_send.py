"""The accept path: messages, jobs and usage written together; charges past the package."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from parley.core.outbound import OutboundError
from parley.services.directory import DirectoryCache
from parley.services.send import Outbox, SendSms
from parley.store import messages as messages_store
from parley.store.db import Database
from parley.store.tables import jobs, messages, usage
from tests.conftest import Clock
from tests.support.provisioning import provision


@pytest.fixture
async def outbox(db: Database, clock: Clock) -> Outbox:
    await provision(db, clock())
    return Outbox(db, DirectoryCache(db, country="US", timezone="UTC"), clock)


async def _user(db: Database, extension: str):  # type: ignore[no-untyped-def]
    user = await DirectoryCache(db, country="US", timezone="UTC").user(extension)
    assert user is not None
    return user


async def test_an_accepted_message_has_its_job_and_first_status_committed(db: Database, outbox: Outbox) -> None:
    alice = await _user(db, "101")
    result = await outbox.send(SendSms(user=alice, destinations=["+15551234567"], text="Hello"))
    [row] = result.messages
    assert (row["sender"], row["status"], row["segments"], row["encoding"]) == (
        "+15551230001",
        "queued",
        1,
        "gsm7",
    )
    async with db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(jobs)) == 1
        stored = await messages_store.find(conn, row["id"])
        assert [h.status for h in await messages_store.history(conn, stored)] == ["queued"]


async def test_segments_past_the_monthly_package_are_charged_by_the_longest_prefix(
    db: Database, outbox: Outbox
) -> None:
    alice = await _user(db, "101")  # package of 2 segments
    await outbox.send(SendSms(user=alice, destinations=["+15551234567"], text="one"))
    await outbox.send(SendSms(user=alice, destinations=["+447700900123", "+15551234568"], text="x" * 200))
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(messages.c.recipient, messages.c.charge, messages.c.currency))).all()
        total = await conn.scalar(sa.select(usage.c.segments))
    charges = {r.recipient: (r.charge, r.currency) for r in rows}
    assert charges["+15551234567"] == (None, None)
    assert charges["+447700900123"] == ("0.04", "GBP")  # 1 of 2 segments inside the package
    assert charges["+15551234568"] == ("0.0158", "USD")  # both segments billable
    assert total == 5


async def test_postponed_messages_are_scheduled_and_due_at_their_time(
    db: Database, outbox: Outbox, clock: Clock
) -> None:
    alice = await _user(db, "101")
    later = clock.advance(seconds=0).replace(hour=18)
    await outbox.send(SendSms(user=alice, destinations=["+15551234567"], text="later", send_at=later))
    async with db.read() as conn:
        status = await conn.scalar(sa.select(messages.c.status))
        due = await conn.scalar(sa.select(jobs.c.due_at))
    assert status == "scheduled"
    assert due == later


async def test_a_large_batch_is_written_whole_on_every_backend(db: Database, outbox: Outbox) -> None:
    alice = await _user(db, "101")
    numbers = [f"+4477009{i:05d}" for i in range(120)]  # past the COPY threshold on PostgreSQL
    result = await outbox.send(SendSms(user=alice, destinations=numbers, text="bulk"))
    async with db.read() as conn:
        stored = (await conn.execute(sa.select(messages.c.recipient, messages.c.created_at))).all()
        due = (await conn.execute(sa.select(jobs.c.due_at))).scalars().all()
    assert sorted(r.recipient for r in stored) == numbers
    assert {r.created_at for r in stored} == {result.messages[0]["created_at"]}
    assert set(due) == {result.messages[0]["created_at"]}


async def test_many_concurrent_sends_are_all_durable(db: Database, outbox: Outbox) -> None:
    bob = await _user(db, "102")
    await asyncio.gather(
        *(outbox.send(SendSms(user=bob, destinations=[f"+4477009{i:05d}"], text=f"n{i}")) for i in range(300))
    )
    async with db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(messages)) == 300
        assert await conn.scalar(sa.select(sa.func.count()).select_from(jobs)) == 300
        assert await conn.scalar(sa.select(usage.c.segments)) == 300


@pytest.mark.parametrize(
    ("extension", "destinations", "text", "field"),
    [
        pytest.param("103", ["+15551234567"], "hi", "license", id="basic-license"),
        pytest.param("102", ["+15551234567"], "hi", "number", id="plus-one-without-office-number"),
        pytest.param("101", [], "hi", "number", id="no-number"),
        pytest.param("101", ["+15551234567"], "  ", "message", id="empty-message"),
        pytest.param("101", ["+15551234567"], "x" * 671, "message", id="too-long"),
    ],
)
async def test_requests_that_cannot_be_sent_name_the_field(
    db: Database, outbox: Outbox, extension: str, destinations: list[str], text: str, field: str
) -> None:
    user = await _user(db, extension)
    with pytest.raises(OutboundError) as caught:
        await outbox.send(SendSms(user=user, destinations=destinations, text=text))
    assert caught.value.field == field
    async with db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(messages)) == 0
