"""Telnyx's webhooks through the real app (in process), signed by the local "Telnyx" as Telnyx signs them."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import structlog
from fastapi.responses import JSONResponse

from parley.bootstrap import utcnow
from parley.channels.base import Inbound, Outgoing
from parley.channels.telnyx import TelnyxChannel
from parley.core.text import Encoding
from parley.ingress.webhook_replies import store_or_503
from parley.services.delivery import Delivered
from parley.store.tables import message_media, messages, receipts
from tests.support.app import ALICE, InProcess, in_process
from tests.support.fake_telnyx import FakeTelnyx
from tests.support.outbound import add_outbound
from tests.support.provisioning import document
from tests.support.server import wait_until

PATH = "/api/v2/webhooks/telnyx"
URL = "http://parley.test" + PATH
COMPANY, CUSTOMER = "+15551230001", "+15557654321"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 64


def transport(telnyx: FakeTelnyx, name: str = "telnyx") -> dict[str, Any]:
    return {"name": name, "role": "carrier", "kind": "telnyx", "api_key": telnyx.api_key,
            "public_key": telnyx.public_key_b64, "api_base": telnyx.url}  # fmt: skip


@asynccontextmanager
async def telnyx_app(tmp_path: Path, *names: str) -> AsyncIterator[tuple[InProcess, list[FakeTelnyx]]]:
    """The app with one telnyx transport per name (default one, "telnyx"), each with its own local Telnyx."""
    fakes = [FakeTelnyx(f"KEY-{name}") for name in names or ("telnyx",)]
    for fake in fakes:
        await fake.__aenter__()
    try:
        doc = document(transports=[transport(f, n) for f, n in zip(fakes, names or ("telnyx",), strict=True)])
        async with in_process(tmp_path, doc, public_url="http://parley.test") as app, app.client() as client:
            for fake in fakes:
                fake.client = client
            yield app, fakes
    finally:
        for fake in fakes:
            await fake.__aexit__(None, None, None)


async def rows(app: InProcess, table: sa.Table) -> list[Any]:
    async with app.parley.db.read() as conn:
        return list((await conn.execute(sa.select(table))).all())


async def test_a_signed_inbound_mms_is_stored_with_its_media_refs(tmp_path: Path) -> None:
    async with telnyx_app(tmp_path) as (app, [telnyx]):
        handed: list[Inbound] = []
        receive = app.parley.inbox.receive

        async def spy(transport: str, inbound: Inbound, *, source: str = "smpp") -> str | None:
            handed.append(inbound)
            return await receive(transport, inbound, source=source)

        app.parley.inbox.receive = spy  # type: ignore[method-assign]
        answer, message_id, urls = await telnyx.send_inbound(
            URL, sender=CUSTOMER, to=COMPANY, text="Two pictures", pictures=[(PNG, "image/png"), (JPEG, "image/jpeg")]
        )
        assert (answer.status_code, answer.json()) == (200, {})
        [stored] = await rows(app, messages)

    assert (stored.direction, stored.sender, stored.recipient, stored.body) == ("in", CUSTOMER, COMPANY, "Two pictures")
    assert (stored.transport, stored.carrier_id, stored.status) == ("telnyx", message_id, "received")
    [inbound] = handed
    assert (inbound.channel, inbound.media) == ("mms", tuple(urls))
    assert len(urls) == 2 and urls[0] != urls[1]


async def test_a_signed_inbound_mms_is_stored_with_channel_mms_and_pending_media(tmp_path: Path) -> None:
    async with telnyx_app(tmp_path) as (app, [telnyx]):
        _, _, urls = await telnyx.send_inbound(
            URL, sender=CUSTOMER, to=COMPANY, pictures=[(PNG, "image/png"), (JPEG, "image/jpeg")]
        )
        [stored] = await rows(app, messages)
        media = sorted(await rows(app, message_media), key=lambda r: r.position)
    assert stored.channel == "mms"
    assert [(m.message_id, m.source, m.transport) for m in media] == [(stored.id, url, "telnyx") for url in urls]


async def test_the_media_urls_of_an_inbound_mms_fetch_through_the_channel(tmp_path: Path) -> None:
    async with telnyx_app(tmp_path) as (_, [telnyx]):
        _, _, urls = await telnyx.send_inbound(URL, sender=CUSTOMER, to=COMPANY, pictures=[(JPEG, "image/jpeg")])
        channel = TelnyxChannel("telnyx", telnyx.api_key, api_base=telnyx.url, webhook_url=None)
        await channel.start()
        chunks: list[bytes] = []

        async def write(chunk: bytes) -> None:
            chunks.append(chunk)

        try:
            assert await channel.fetch_media(urls[0], write, max_bytes=10_000) == "image/jpeg"
        finally:
            await channel.stop()
    assert b"".join(chunks) == JPEG
    assert "authorization" not in telnyx.requests[-1].headers


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param("other-key", id="signed-with-another-key"),
        pytest.param("stale", id="six-minutes-old"),
        pytest.param("future", id="six-minutes-ahead"),
        pytest.param("tampered", id="body-changed-after-signing"),
        pytest.param("unsigned", id="no-signature-headers"),
    ],
)
async def test_a_forged_or_stale_event_is_refused_and_nothing_stored(tmp_path: Path, forge: str) -> None:
    async with telnyx_app(tmp_path) as (app, [telnyx]), FakeTelnyx() as impostor:
        body = telnyx.event("message.received", {"id": "in-1", "type": "SMS", "from": {"phone_number": CUSTOMER},
                                                 "to": [{"phone_number": COMPANY}], "text": "Forged"})  # fmt: skip
        now = int(time.time())
        headers = {
            "other-key": impostor.sign(body),
            "stale": telnyx.sign(body, now - 360),
            "future": telnyx.sign(body, now + 360),
            "tampered": telnyx.sign(body.replace(b"Forged", b"Honest")),
            "unsigned": {"content-type": "application/json"},
        }[forge]
        async with app.client() as client:
            answer = await client.post(PATH, content=body, headers=headers)
        assert answer.status_code == 403
        assert answer.json()["error"]["field"] == "telnyx-signature-ed25519"
        assert await rows(app, messages) == []


async def test_a_finalized_status_reaches_the_receipts_and_the_message(tmp_path: Path) -> None:
    async with telnyx_app(tmp_path) as (app, [telnyx]):
        parley = app.parley
        await add_outbound(parley.db, ["m1"], now=utcnow(), status="sending")
        channel = TelnyxChannel(
            "telnyx", telnyx.api_key, api_base=telnyx.url, webhook_url=parley.settings.public_base + PATH
        )
        await channel.start()
        try:
            sent = await channel.send(Outgoing("m1", COMPANY, "+15551234567", "hi", Encoding.GSM7))
        finally:
            await channel.stop()
        await parley.deliveries.record(Delivered("m1", "telnyx", sent.carrier_ids))
        [message] = telnyx.messages
        assert message.webhook_url == URL

        sent_answer = await telnyx.send_status(message, "message.sent", status="sent")
        failed = await telnyx.send_status(
            message, status="delivery_failed", errors=[{"code": "40008", "title": "Undeliverable", "detail": "…"}]
        )
        assert (sent_answer.status_code, failed.status_code, failed.json()) == (200, 200, {})
        stored = [(r.transport, r.carrier_id, r.state, r.stat, r.err) for r in await rows(app, receipts)]
        [row] = [r for r in await rows(app, messages) if r.id == "m1"]

    assert stored == [
        ("telnyx", message.id, "sent", "sent", ""),
        ("telnyx", message.id, "undelivered", "delivery_failed", "40008"),
    ]
    assert row.status == "undelivered"


async def test_a_message_sent_through_the_api_goes_out_by_telnyx_and_turns_delivered(tmp_path: Path) -> None:
    """The transport's channel as bootstrap builds it, driven by the dispatcher; its status events come back."""
    async with telnyx_app(tmp_path) as (app, [telnyx]), app.client(ALICE) as alice:
        await app.parley.start_workers()
        accepted = await alice.post("/api/v2/messages", json={"to": CUSTOMER, "text": "Your order shipped"})
        assert accepted.status_code in (200, 201, 202), accepted.text
        message_id = accepted.json()["messages"][0]["id"]
        await wait_until(lambda: telnyx.messages, timeout=10)
        [sent] = telnyx.messages
        assert telnyx.problems == []
        assert (sent.sender, sent.to, sent.text, sent.webhook_url) == (COMPANY, CUSTOMER, "Your order shipped", URL)

        async def status_is(*wanted: str) -> bool:
            return (await alice.get(f"/api/v2/messages/{message_id}")).json()["status"] in wanted

        await wait_until(lambda: status_is("sending", "sent"), timeout=10)
        assert (await telnyx.send_status(sent, status="delivered")).status_code == 200
        await wait_until(lambda: status_is("delivered"), timeout=10)


async def test_each_event_belongs_to_the_transport_whose_key_signed_it(tmp_path: Path) -> None:
    async with telnyx_app(tmp_path, "telnyx-east", "telnyx-west") as (app, [_, west]):
        answer, message_id, _ = await west.send_inbound(URL, sender=CUSTOMER, to=COMPANY, text="Hi west")
        assert answer.status_code == 200
        [stored] = await rows(app, messages)
    assert (stored.transport, stored.carrier_id) == ("telnyx-west", message_id)


async def test_an_unknown_event_is_answered_and_ignored(tmp_path: Path) -> None:
    async with telnyx_app(tmp_path) as (app, [telnyx]):
        with structlog.testing.capture_logs() as logs:
            answer = await telnyx.post(URL, telnyx.event("call.initiated", {"call_control_id": "c1"}))
        assert (answer.status_code, answer.json()) == (200, {})
        assert await rows(app, messages) == [] and await rows(app, receipts) == []
    [ignored] = [e for e in logs if e["event"] == "telnyx.event_ignored"]
    assert (ignored["log_level"], ignored["event_type"], ignored["transport"]) == ("info", "call.initiated", "telnyx")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(b"{not json", None, id="not-json"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, None, id="nested-past-the-parser"),
        pytest.param(json.dumps({"data": {"event_type": "message.received", "payload": {"id": "x"}}}).encode(),
                     "data.payload.to", id="no-recipient"),
        pytest.param(json.dumps({"data": {"event_type": "message.finalized", "payload": {
            "id": "x", "to": [{"phone_number": CUSTOMER}]}}}).encode(), "data.payload.to[0].status", id="no-status"),
    ],
)  # fmt: skip
async def test_a_signed_body_that_cannot_be_read_is_a_400_naming_the_field(
    tmp_path: Path, body: bytes, field: str | None
) -> None:
    async with telnyx_app(tmp_path) as (app, [telnyx]):
        answer = await telnyx.post(URL, body)
        assert answer.status_code == 400
        assert answer.json()["error"]["field"] == field
        assert await rows(app, messages) == []


async def test_without_a_telnyx_transport_the_webhook_is_not_found(tmp_path: Path) -> None:
    async with FakeTelnyx() as telnyx, in_process(tmp_path) as app, app.client() as client:
        telnyx.client = client
        answer, _, _ = await telnyx.send_inbound(URL, sender=CUSTOMER, to=COMPANY, text="Hi")
    assert answer.status_code == 404


async def test_storing_answers_503_only_while_the_database_is_down() -> None:
    async def down() -> None:
        raise OSError("connection refused")

    async def broken() -> None:
        raise ValueError("a bug")

    answer = await store_or_503(down(), transport="telnyx")
    assert isinstance(answer, JSONResponse) and answer.status_code == 503
    with pytest.raises(ValueError, match="a bug"):
        await store_or_503(broken(), transport="telnyx")
    assert await store_or_503(_value(), transport="telnyx") == "m1"


async def _value() -> str:
    return "m1"
