"""Marking read at Meta (issue 12 §6): a member reading the conversation marks the customer's WhatsApp messages read
with one mark-as-read of the newest one, once, durably: retried after a failure, given up after a day."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from structlog.testing import capture_logs

from parley.bootstrap import utcnow
from parley.services.whatsapp_read import WhatsAppReads
from parley.store.tables import jobs, message_events, messages
from tests.support.app import ALICE, InProcess, console_client, in_process
from tests.support.fake_meta import FakeMeta
from tests.support.provisioning import document

URL = "/api/v2/webhooks/whatsapp"


class Clock:
    """The real time, moved on by ``later``."""

    def __init__(self) -> None:
        self.later = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.later


@asynccontextmanager
async def whatsapp_app(tmp_path: Path, meta: FakeMeta) -> AsyncIterator[InProcess]:
    await meta.__aenter__()  # its address is known once it listens
    transport = {"name": "wa-main", "role": "whatsapp", "kind": "whatsapp", "number": "+15551230001",
                 "phone_number_id": meta.phone_number_id, "waba_id": meta.waba_id, "access_token": meta.access_token,
                 "app_secret": meta.app_secret, "verify_token": "verify", "api_base": meta.api_base}  # fmt: skip
    numbers = [{"number": "+15551230001", "whatsapp": True, "linked_service": "Support"}]
    try:
        async with in_process(tmp_path, document(numbers=numbers, transports=[transport])) as app:
            await app.parley.transports.start()
            async with app.client() as meta_client:
                meta.client = meta_client
                yield app
    finally:
        await meta.__aexit__(None, None, None)


async def customer_writes(app: InProcess, meta: FakeMeta, *wamids: str) -> str:
    for wamid in wamids:
        assert (await meta.post(URL, meta.inbound(text=f"about {wamid}", wamid=wamid))).status_code == 200
    assert await app.parley.router.route_due() == len(wamids)
    async with app.parley.db.read() as conn:
        cid = await conn.scalar(sa.select(messages.c.conversation_id).where(messages.c.carrier_id == wamids[0]))
    assert cid is not None
    return str(cid)


async def member_reads(app: InProcess, cid: str) -> None:
    async with app.client(ALICE) as alice:
        answer = await alice.post(f"/api/v2/conversations/{cid}/read")
    assert answer.status_code == 204, answer.text


def reads(app: InProcess, clock: Clock) -> WhatsAppReads:
    return WhatsAppReads(app.parley.db, app.parley.transports.channel, clock, worker="test")


async def waread_jobs(app: InProcess) -> list[tuple[str, int]]:
    async with app.parley.db.read() as conn:
        rows = (await conn.execute(sa.select(messages.c.carrier_id, jobs.c.attempts).join(
            messages, messages.c.id == jobs.c.message_id).where(jobs.c.kind == "waread"))).all()  # fmt: skip
    return [(r.carrier_id, r.attempts) for r in rows]


async def test_reading_the_conversation_marks_the_newest_whatsapp_message_read_at_meta_once(tmp_path: Path) -> None:
    meta = FakeMeta()
    async with whatsapp_app(tmp_path, meta) as app:
        cid = await customer_writes(app, meta, "wamid.one", "wamid.two")
        await member_reads(app, cid)
        assert await waread_jobs(app) == [("wamid.two", 0)]  # written with the read, not yet sent
        worker = reads(app, Clock())
        assert await worker.mark_due() == 1
        assert meta.reads == ["wamid.two"] and meta.problems == []
        [request] = [r for r in meta.requests if r.method == "POST"][-1:]
        assert request.path == f"/v21.0/{meta.phone_number_id}/messages"
        assert request.headers["authorization"] == f"Bearer {meta.access_token}"
        assert request.headers["content-type"].startswith("application/json")
        assert json.loads(request.body) == {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": "wamid.two",
        }
        assert await waread_jobs(app) == []

        await member_reads(app, cid)  # read again: nothing new from the customer, nothing sent again
        assert await worker.mark_due() == 0
        assert meta.reads == ["wamid.two"]

        await customer_writes(app, meta, "wamid.three")
        await member_reads(app, cid)
        await member_reads(app, cid)  # a second read while the first is pending adds nothing
        assert await worker.mark_due() == 1
        assert meta.reads == ["wamid.two", "wamid.three"]
        async with app.parley.db.read() as conn:
            query = (
                sa.select(messages.c.carrier_id, message_events.c.detail)
                .join(messages, messages.c.id == message_events.c.message_id)
                .where(message_events.c.status == "read")
            )
            marked = (await conn.execute(query)).all()
        assert sorted(marked) == [("wamid.three", "marked read at WhatsApp"), ("wamid.two", "marked read at WhatsApp")]


async def test_a_failed_mark_as_read_is_retried_with_backoff(tmp_path: Path) -> None:
    meta = FakeMeta()
    async with whatsapp_app(tmp_path, meta) as app:
        cid = await customer_writes(app, meta, "wamid.one")
        await member_reads(app, cid)
        meta.fail_next_read(500, 1, "An unknown error occurred")
        clock = Clock()
        worker = reads(app, clock)
        assert await worker.mark_due() == 1
        assert meta.reads == [] and await waread_jobs(app) == [("wamid.one", 1)]
        assert await worker.mark_due() == 0  # waits for its backoff
        clock.later += timedelta(minutes=1)
        assert await worker.mark_due() == 1
        assert meta.reads == ["wamid.one"] and await waread_jobs(app) == []


async def test_a_mark_as_read_failing_for_a_day_is_given_up_with_a_log_line(tmp_path: Path) -> None:
    meta = FakeMeta()
    async with whatsapp_app(tmp_path, meta) as app:
        cid = await customer_writes(app, meta, "wamid.one")
        await member_reads(app, cid)
        meta.access_token = "EAAG-rotated"  # Parley's token is now the wrong one: Meta answers 401, code 190
        clock = Clock()
        worker = reads(app, clock)
        with capture_logs() as logs:
            for _ in range(200):
                if not await waread_jobs(app):
                    break
                await worker.mark_due()
                clock.later += timedelta(minutes=10)
        assert await waread_jobs(app) == [] and meta.reads == []
        [given_up] = [e for e in logs if e["event"] == "whatsapp_read.given_up"]
        assert "gave up after" in given_up["reason"] and "access token" in given_up["reason"]
        assert "EAAG" not in json.dumps(logs, default=str)


async def test_a_newest_message_that_still_has_another_job_is_passed_over_for_the_one_before(tmp_path: Path) -> None:
    meta = FakeMeta()
    async with whatsapp_app(tmp_path, meta) as app:
        cid = await customer_writes(app, meta, "wamid.one", "wamid.two")
        async with app.parley.db.write() as conn:
            newest = await conn.scalar(sa.select(messages.c.id).where(messages.c.carrier_id == "wamid.two"))
            due = utcnow() + timedelta(days=1)
            await conn.execute(jobs.insert().values(message_id=newest, kind="route", due_at=due, attempts=0))
        await member_reads(app, cid)
        assert await waread_jobs(app) == [("wamid.one", 0)]
        assert await reads(app, Clock()).mark_due() == 1
        assert meta.reads == ["wamid.one"]


async def test_the_console_marking_the_conversation_read_asks_meta_too(tmp_path: Path) -> None:
    meta = FakeMeta()
    async with whatsapp_app(tmp_path, meta) as app:
        cid = await customer_writes(app, meta, "wamid.one")
        async with console_client(app, ALICE) as (alice, csrf):
            assert (await alice.get(f"/inbox/{cid}")).status_code == 200  # a GET alone marks nothing
            assert await waread_jobs(app) == []
            read = await alice.post(f"/inbox/{cid}/read", headers={"X-CSRF-Token": csrf})
            assert read.status_code == 204
        assert await reads(app, Clock()).mark_due() == 1
        assert meta.reads == ["wamid.one"]
