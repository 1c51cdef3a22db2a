"""Inbound attachments on SQLite and PostgreSQL: stored pending with their message, fetched through the receiving
transport's channel (a fake `MediaSource` here), retried on the schedule, failed with the reason, never twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from parley.channels.base import Inbound, MediaUnavailable, MediaWriter
from parley.services.events import EventBus
from parley.services.media import MediaStore
from parley.services.media_fetch import MediaEvents, MediaFetcher
from parley.services.receive import Inbox
from parley.store import media as media_rows
from parley.store.db import Database
from parley.store.tables import conversations, message_media, messages, participants, users
from tests.conftest import Clock
from tests.support.media_samples import GIF, PNG

PIC1, PIC2 = "https://carrier.test/media/ME1", "https://carrier.test/media/ME2"
Outcome = bytes | Exception


class FakeSource:
    """A channel that fetches attachments: each reference's outcomes in turn (the last one repeats)."""

    def __init__(self, outcomes: dict[str, list[Outcome]]) -> None:
        self.outcomes = outcomes
        self.calls: list[str] = []

    async def fetch_media(self, ref: str, write: MediaWriter, *, max_bytes: int) -> str:
        self.calls.append(ref)
        queue = self.outcomes[ref]
        outcome = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(outcome, Exception):
            raise outcome
        for i in range(0, len(outcome), 1000):
            await write(outcome[i : i + 1000])
        return "image/png"


class NoMedia:
    """A channel that carries no attachments (SMPP)."""


@pytest.fixture
def store(db: Database, clock: Clock, tmp_path: Path) -> MediaStore:
    return MediaStore(
        db, clock, media_dir=tmp_path / "media", in_database=db.is_postgres, secret="", public_base="http://x"
    )


@pytest.fixture
async def inbox(db: Database, clock: Clock) -> AsyncIterator[Inbox]:
    inbox = Inbox(db, clock)
    yield inbox
    await inbox.close()


def fetcher(db: Database, store: MediaStore, clock: Clock, channels: dict[str, object], **kw: Any) -> MediaFetcher:
    return MediaFetcher(db, store, channels.get, clock, max_bytes=kw.pop("max_bytes", 100_000), **kw)


async def receive_mms(inbox: Inbox, refs: Sequence[str] = (PIC1, PIC2), transport: str = "twilio") -> str:
    inbound = Inbound(
        "+15557654321", "+15551230001", "look at these", carrier_id=None, media=tuple(refs), channel="mms"
    )
    message_id = await inbox.receive(transport, inbound, source=transport)
    assert message_id is not None
    return message_id


async def links(db: Database, message_id: str) -> list[dict[str, Any]]:
    async with db.read() as conn:
        rows = await conn.execute(
            sa.select(message_media).where(message_media.c.message_id == message_id).order_by(message_media.c.position)
        )
        return [dict(r._mapping) for r in rows]


async def test_an_inbound_mms_is_stored_with_its_attachments_pending(db: Database, clock: Clock) -> None:
    woken: list[bool] = []
    inbox = Inbox(db, clock, on_media=lambda: woken.append(True))
    try:
        message_id = await receive_mms(inbox)
        await receive_mms(inbox, refs=())  # a plain SMS wakes no fetcher
    finally:
        await inbox.close()
    async with db.read() as conn:
        message = (await conn.execute(sa.select(messages).where(messages.c.id == message_id))).one()
    assert (message.body, message.channel) == ("look at these", "mms")
    assert [
        (r["position"], r["source"], r["transport"], r["state"], r["due_at"]) for r in await links(db, message_id)
    ] == [
        (0, PIC1, "twilio", "pending", clock()),
        (1, PIC2, "twilio", "pending", clock()),
    ]
    assert woken == [True]


async def test_pending_attachments_are_fetched_through_the_receiving_transport(
    db: Database, inbox: Inbox, store: MediaStore, clock: Clock
) -> None:
    message_id = await receive_mms(inbox)
    source = FakeSource({PIC1: [PNG], PIC2: [GIF]})
    changed: list[Sequence[str]] = []

    async def on_changed(ids: Sequence[str]) -> None:
        changed.append(ids)

    worker = fetcher(db, store, clock, {"twilio": source, "smpp": NoMedia()}, on_changed=on_changed)
    assert await worker.fetch_due() == 2
    rows = await links(db, message_id)
    assert [(r["state"], r["error"]) for r in rows] == [("ready", None), ("ready", None)]
    found = await store.attachments([message_id])
    assert [(a["content_type"], a["filename"], a["size"]) for a in found[message_id]] == [
        ("image/png", "attachment-1.png", len(PNG)),
        ("image/gif", "attachment-2.gif", len(GIF)),
    ]
    _, body = await store.open(rows[1]["media_id"])
    assert b"".join([c async for c in body]) == GIF
    assert changed == [[message_id]]
    assert await worker.fetch_due() == 0  # nothing left, and nothing fetched twice
    assert sorted(source.calls) == [PIC1, PIC2]
    async with db.read() as conn:
        assert await conn.scalar(sa.select(messages.c.body).where(messages.c.id == message_id)) == "look at these"


RETRIED = [
    pytest.param(MediaUnavailable("the carrier answered 503", retryable=True), "the carrier answered 503", id="503"),
    pytest.param(RuntimeError("a bug"), "unexpected error: RuntimeError", id="unexpected"),
]


@pytest.mark.parametrize(("error", "reason"), RETRIED)
async def test_a_failure_a_later_try_may_get_past_is_retried_with_backoff(
    db: Database, inbox: Inbox, store: MediaStore, clock: Clock, error: Exception, reason: str
) -> None:
    message_id = await receive_mms(inbox, [PIC1])
    worker = fetcher(db, store, clock, {"twilio": FakeSource({PIC1: [error, error, PNG]})})
    assert await worker.fetch_due() == 1
    [row] = await links(db, message_id)
    assert (row["state"], row["error"], row["due_at"], row["lease_until"]) == (
        "pending", reason, clock() + timedelta(seconds=5), None
    )  # fmt: skip
    clock.advance(seconds=4)
    assert await worker.fetch_due() == 0
    clock.advance(seconds=1)
    assert await worker.fetch_due() == 1
    assert (await links(db, message_id))[0]["due_at"] == clock() + timedelta(seconds=30)
    clock.advance(seconds=30)
    assert await worker.fetch_due() == 1
    [row] = await links(db, message_id)
    assert (row["state"], row["error"], row["attempts"]) == ("ready", None, 3)


FAILED = [
    pytest.param(MediaUnavailable("the carrier answered 404", retryable=False), "the carrier answered 404", id="404"),
    pytest.param(b"<html><body>not a picture</body></html>\x00", "is not a type of file Parley takes", id="forbidden"),
    pytest.param(b"a" * 5000, '"attachment-1" is larger than 4,000 bytes', id="too-large"),
    pytest.param(b"", '"attachment-1" is empty (0 bytes)', id="empty"),
]


@pytest.mark.parametrize(("outcome", "reason"), FAILED)
async def test_what_no_later_try_can_change_fails_at_once_with_the_reason(
    db: Database, inbox: Inbox, store: MediaStore, clock: Clock, outcome: Outcome, reason: str
) -> None:
    message_id = await receive_mms(inbox, [PIC1])
    worker = fetcher(db, store, clock, {"twilio": FakeSource({PIC1: [outcome]})}, max_bytes=4000)
    await worker.fetch_due()
    [row] = await links(db, message_id)
    assert (row["state"], row["media_id"]) == ("failed", None)
    assert reason in row["error"]
    assert await store.attachments([message_id]) == {
        message_id: [{"id": None, "content_type": None, "size": None, "filename": None, "url": None,
                      "state": "failed", "error": row["error"]}]
    }  # fmt: skip


async def test_a_transport_that_cannot_fetch_fails_and_one_not_running_is_waited_for(
    db: Database, inbox: Inbox, store: MediaStore, clock: Clock
) -> None:
    by_smpp = await receive_mms(inbox, [PIC1], transport="smpp")
    by_gone = await receive_mms(inbox, [PIC2], transport="gone")
    await fetcher(db, store, clock, {"smpp": NoMedia()}).fetch_due()
    assert [(r["state"], r["error"]) for r in await links(db, by_smpp)] == [
        ("failed", 'the transport "smpp" cannot fetch attachments')
    ]
    assert [(r["state"], r["error"]) for r in await links(db, by_gone)] == [
        ("pending", 'the transport "gone" is not running')
    ]


async def test_retries_end_after_a_day(db: Database, inbox: Inbox, store: MediaStore, clock: Clock) -> None:
    message_id = await receive_mms(inbox, [PIC1])
    down = MediaUnavailable("timed out", retryable=True)
    worker = fetcher(db, store, clock, {"twilio": FakeSource({PIC1: [down]})})
    start = clock()
    for _ in range(40):
        await worker.fetch_due()
        [row] = await links(db, message_id)
        if row["state"] != "pending":
            break
        clock.now = row["due_at"]
    assert (row["state"], row["error"]) == ("failed", "gave up after 29 attempts: timed out")
    assert timedelta(hours=23) < clock() - start <= timedelta(hours=24)


async def test_a_fetch_that_never_ends_is_cut_inside_the_lease_and_retried(
    db: Database, inbox: Inbox, store: MediaStore, clock: Clock
) -> None:
    class Stuck:
        async def fetch_media(self, ref: str, write: MediaWriter, *, max_bytes: int) -> str:
            await write(PNG)
            await asyncio.Event().wait()
            return "image/png"

    message_id = await receive_mms(inbox, [PIC1])
    await fetcher(db, store, clock, {"twilio": Stuck()}, lease=timedelta(seconds=0.2)).fetch_due()
    [row] = await links(db, message_id)
    assert (row["state"], row["error"]) == ("pending", "the provider did not send the file in time")
    assert await store.info_many([row["media_id"] or ""]) == {}


async def test_several_workers_fetch_each_attachment_once(
    db: Database, inbox: Inbox, store: MediaStore, clock: Clock
) -> None:
    refs = [f"https://carrier.test/media/ME{i}" for i in range(12)]
    ids = [await receive_mms(inbox, refs[i : i + 3]) for i in range(0, 12, 3)]
    source = FakeSource({ref: [PNG] for ref in refs})
    workers = [fetcher(db, store, clock, {"twilio": source}, batch=2) for _ in range(3)]
    while sum(await asyncio.gather(*(w.fetch_due() for w in workers))):
        pass
    assert sorted(source.calls) == sorted(refs)
    states = [r["state"] for mid in ids for r in await links(db, mid)]
    assert states == ["ready"] * 12


async def test_an_outcome_is_recorded_only_by_the_worker_that_holds_the_lease(
    db: Database, inbox: Inbox, clock: Clock
) -> None:
    message_id = await receive_mms(inbox, [PIC1])
    lease = timedelta(minutes=10)
    async with db.write() as conn:
        [first] = await media_rows.claim_pending(conn, now=clock(), lease=lease, limit=10)
    clock.advance(minutes=10)
    async with db.write() as conn:
        [second] = await media_rows.claim_pending(conn, now=clock(), lease=lease, limit=10)
        assert second.attempts == 2
        assert not await media_rows.record(conn, first, {"state": "failed", "error": "late"})
        assert await media_rows.record(conn, second, {"state": "failed", "error": "in time"})
    assert [r["error"] for r in await links(db, message_id)] == ["in time"]


async def test_participants_hear_that_a_message_s_attachments_changed(db: Database, inbox: Inbox, clock: Clock) -> None:
    message_id = await receive_mms(inbox, [PIC1])
    unrouted = await receive_mms(inbox, [PIC2])
    now = clock()
    async with db.write() as conn:
        await conn.execute(
            users.insert().values(id=7, extension="107", name="Agent", password_hash="x", license="business",
                                  updated_at=now)
        )  # fmt: skip
        await conn.execute(
            conversations.insert().values(
                id="c1", thread_key="k", company_number="+15551230001", external_number="+15557654321", title="t",
                unrouted=False, created_at=now, updated_at=now,
            )
        )  # fmt: skip
        await conn.execute(
            participants.insert().values(conversation_id="c1", member="u:7", user_id=7, active=True,
                                         removed_by_agent=False, joined_at=now)
        )  # fmt: skip
        await conn.execute(messages.update().where(messages.c.id == message_id).values(conversation_id="c1"))
    bus = EventBus(None)
    agent, stranger = await bus.subscribe(7, False), await bus.subscribe(8, False)
    await MediaEvents(db, bus).changed([message_id, unrouted])
    event = await asyncio.wait_for(agent.queue.get(), 5)
    assert (event.type, event.data) == ("message.media", {"conversation_id": "c1", "message_id": message_id})
    assert agent.queue.empty() and stranger.queue.empty()
    await bus.close()


async def test_the_worker_loop_fetches_as_soon_as_an_mms_is_stored(
    db: Database, store: MediaStore, clock: Clock
) -> None:
    worker = fetcher(db, store, clock, {"twilio": FakeSource({PIC1: [PNG]})})
    inbox = Inbox(db, clock, on_media=worker.wake)
    loop = asyncio.create_task(worker.run(idle=60))  # only the wake-up can make it look again in time
    try:
        message_id = await receive_mms(inbox, [PIC1])

        async def fetched() -> None:
            while (await links(db, message_id))[0]["state"] != "ready":
                await asyncio.sleep(0.01)

        await asyncio.wait_for(fetched(), 10)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
        await inbox.close()
