"""The mark-as-read queue on SQLite and PostgreSQL (issue 12 §6): one `waread` job per conversation read, whatever
runs at once; the worker's outcomes with a stand-in channel."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa
from structlog.testing import capture_logs

from parley.core.delivery import Unreachable
from parley.services import whatsapp_read
from parley.services.whatsapp_read import WhatsAppReads
from parley.store.db import Database
from parley.store.tables import conversations, jobs, message_events, messages
from tests.conftest import Clock

SUPPORT, CUSTOMER = "+15551230001", "+15557654321"


class Channel:
    """Stands in for a WhatsApp channel: records the wamids marked; ``fail`` makes the next calls raise."""

    def __init__(self) -> None:
        self.marked: list[str] = []
        self.fail: Exception | None = None

    async def mark_read(self, wamid: str) -> None:
        if self.fail is not None:
            raise self.fail
        self.marked.append(wamid)


async def seed(db: Database, clock: Clock, *wamids: str | None) -> list[str]:
    """A conversation with one inbound WhatsApp message per wamid (oldest first); their ids."""
    now = clock()
    async with db.write() as conn:
        await conn.execute(conversations.insert().values(
            id="c1", thread_key=f"{SUPPORT}|{CUSTOMER}|-", company_number=SUPPORT, external_number=CUSTOMER,
            title=CUSTOMER, unrouted=False, created_at=now, updated_at=now,
            whatsapp_last_inbound_at=now if wamids else None))  # fmt: skip
        ids = []
        for n, wamid in enumerate(wamids):
            at = now + timedelta(seconds=n)
            ids.append(f"m{n}")
            await conn.execute(messages.insert().values(
                id=f"m{n}", direction="in", sender=CUSTOMER, recipient=SUPPORT, body="hi", status="received",
                segments=1, encoding="gsm7", transport="wa-main", channel="whatsapp", source="whatsapp",
                conversation_id="c1", carrier_id=wamid, created_at=at, updated_at=at))  # fmt: skip
    return ids


async def read(db: Database, clock: Clock) -> None:
    async with db.write() as conn:
        await whatsapp_read.request(conn, "c1", clock())


async def waread_jobs(db: Database) -> list[str]:
    async with db.read() as conn:
        return list((await conn.execute(sa.select(jobs.c.message_id).where(jobs.c.kind == "waread"))).scalars())


async def test_reads_at_once_write_one_job_on_the_newest_message(db: Database, clock: Clock) -> None:
    await seed(db, clock, "wamid.a", "wamid.b")
    await asyncio.gather(*(read(db, clock) for _ in range(4)))
    assert await waread_jobs(db) == ["m1"]


async def test_the_worker_marks_once_and_records_it_in_the_messages_history(db: Database, clock: Clock) -> None:
    await seed(db, clock, "wamid.a", "wamid.b")
    channel = Channel()
    reads = WhatsAppReads(db, {"wa-main": channel}.get, clock, worker="w1")
    await read(db, clock)
    assert await reads.mark_due() == 1
    assert channel.marked == ["wamid.b"]
    await read(db, clock)
    assert await reads.mark_due() == 0 and channel.marked == ["wamid.b"]
    async with db.read() as conn:
        events = (await conn.execute(sa.select(message_events.c.message_id, message_events.c.status))).all()
    assert [tuple(e) for e in events] == [("m1", "read")]


async def test_a_transport_not_running_is_retried_and_one_that_cannot_mark_is_given_up(
    db: Database, clock: Clock
) -> None:
    await seed(db, clock, "wamid.a")
    lookup: dict[str, object] = {}
    reads = WhatsAppReads(db, lookup.get, clock, worker="w1")
    await read(db, clock)
    assert await reads.mark_due() == 1 and await waread_jobs(db) == ["m0"]  # not running here: tried again
    clock.now += timedelta(minutes=1)
    lookup["wa-main"] = object()  # a channel with no mark_read: no later try can help
    with capture_logs() as logs:
        assert await reads.mark_due() == 1
    assert await waread_jobs(db) == []
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["whatsapp_read.given_up"]


async def test_failures_are_retried_with_backoff_until_a_day_has_passed(db: Database, clock: Clock) -> None:
    await seed(db, clock, "wamid.a")
    channel = Channel()
    channel.fail = Unreachable("WhatsApp 190: the access token expired or is wrong")
    reads = WhatsAppReads(db, {"wa-main": channel}.get, clock, worker="w1")
    await read(db, clock)
    tries = 0
    with capture_logs() as logs:
        while await waread_jobs(db) and tries < 1_000:
            tries += await reads.mark_due()
            clock.now += timedelta(minutes=10)
    assert tries == 24 * 6 + 1  # tried every time it was looked at (the backoff is capped at 30 s), for 24 hours
    [given_up] = [e for e in logs if e["event"] == "whatsapp_read.given_up"]
    assert given_up["reason"].startswith(f"gave up after {tries} attempts")


async def test_a_message_without_a_wamid_is_not_asked_for(db: Database, clock: Clock) -> None:
    await seed(db, clock, "wamid.a", None)  # the newest has no wamid: the one before is marked
    channel = Channel()
    await read(db, clock)
    assert await waread_jobs(db) == ["m0"]
    assert await WhatsAppReads(db, {"wa-main": channel}.get, clock, worker="w1").mark_due() == 1
    assert channel.marked == ["wamid.a"]


async def test_a_conversation_without_whatsapp_messages_asks_for_nothing(db: Database, clock: Clock) -> None:
    await seed(db, clock)
    await read(db, clock)
    assert await waread_jobs(db) == []
