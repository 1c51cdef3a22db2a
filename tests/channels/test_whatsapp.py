from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog

from parley.channels.base import Inbound, MediaRef, MediaUnavailable, Outgoing, Receipt
from parley.channels.whatsapp import NotOnWhatsApp, Template, TokenRejected, WhatsAppChannel, WindowClosed, classify
from parley.channels.whatsapp_webhook import (
    WebhookProblem,
    WhatsAppWebhookError,
    parse_webhook,
    verify_handshake,
    verify_signature,
)
from parley.core.delivery import DeliveryError, Rejected, Throttled, Unreachable
from parley.core.text import Encoding
from tests.support.fake_meta import FakeMeta
from tests.support.http_sink import HttpSink

TOKEN = "EAAGm0PX4ZCpsBA-secret-access-token"
TO = "+15557654321"
PICTURE = MediaRef("https://sms.example.com/media/abc?sig=1", "image/jpeg", 1234, "cat.jpg")
PDF = MediaRef("https://sms.example.com/media/def?sig=2", "application/pdf", 5678, "invoice.pdf")
VOICE = MediaRef("https://sms.example.com/media/ghi?sig=3", "audio/ogg", 999, "note.ogg")


def outgoing(text: str = "Hello", media: tuple[MediaRef, ...] = ()) -> Outgoing:
    return Outgoing(id="m1", sender="+15551230001", to=TO, text=text, encoding=Encoding.GSM7, media=media)


@asynccontextmanager
async def channel_with_meta(**kwargs: Any) -> AsyncIterator[tuple[WhatsAppChannel, FakeMeta]]:
    async with FakeMeta(access_token=TOKEN, **kwargs) as meta:
        channel = WhatsAppChannel("wa", phone_number_id=meta.phone_number_id, waba_id=meta.waba_id,
                                  access_token=TOKEN, api_base=meta.api_base)  # fmt: skip
        await channel.start()
        try:
            yield channel, meta
        finally:
            await channel.stop()


# --- sending -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "kind", "part"),
    [
        pytest.param(outgoing("Hello"), "text", {"body": "Hello", "preview_url": False}, id="text"),
        pytest.param(
            outgoing("Look", (PICTURE,)), "image", {"link": PICTURE.url, "caption": "Look"}, id="image-caption"
        ),
        pytest.param(outgoing("", (PDF,)), "document", {"link": PDF.url, "filename": "invoice.pdf"}, id="document"),
        pytest.param(outgoing("", (VOICE,)), "audio", {"link": VOICE.url}, id="audio"),
    ],
)
async def test_send(message: Outgoing, kind: str, part: dict[str, Any]) -> None:
    async with channel_with_meta() as (channel, meta):
        sent = await channel.send(message)
    assert meta.problems == []
    [accepted] = meta.messages
    assert accepted["type"] == kind and accepted[kind] == part
    assert accepted["to"] == "15557654321" and accepted["recipient_type"] == "individual"
    assert sent.carrier_ids == (accepted["id"],) and sent.status == "sending"
    assert meta.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_send_template_with_variables_and_header_media() -> None:
    template = Template("order_update", "en_US", ("Kerry", "#123"), header_media=PDF)
    async with channel_with_meta() as (channel, meta):
        sent = await channel.send_template(TO, template, message_id="m1")
    assert meta.problems == []
    [accepted] = meta.messages
    assert accepted["template"] == {
        "name": "order_update", "language": {"code": "en_US"},
        "components": [
            {"type": "header",
             "parameters": [{"type": "document", "document": {"link": PDF.url, "filename": "invoice.pdf"}}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Kerry"}, {"type": "text", "text": "#123"}]},
        ],
    }  # fmt: skip
    assert sent.carrier_ids == (accepted["id"],)


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(outgoing("x" * 4097), id="text-too-long"),
        pytest.param(outgoing("x" * 1025, (PICTURE,)), id="caption-too-long"),
        pytest.param(outgoing("", (PICTURE, PDF)), id="two-attachments"),
        pytest.param(outgoing("hi", (VOICE,)), id="audio-caption"),
    ],
)
async def test_send_refuses_what_whatsapp_would(message: Outgoing) -> None:
    async with channel_with_meta() as (channel, meta):
        with pytest.raises(Rejected):
            await channel.send(message)
    assert meta.requests == []


async def test_before_submit_is_called_before_the_request() -> None:
    seen: list[int] = []
    async with channel_with_meta() as (channel, meta):

        async def journal() -> None:
            seen.append(len(meta.requests))

        message = Outgoing(id="m1", sender="x", to=TO, text="Hi", encoding=Encoding.GSM7, before_submit=journal)
        await channel.send(message)
    assert seen == [0] and len(meta.messages) == 1


async def test_error_answer_is_classified_and_never_carries_the_token() -> None:
    async with channel_with_meta() as (channel, meta):
        meta.fail_next(400, 131047, f"Re-engagement message; token {TOKEN}")
        with structlog.testing.capture_logs() as logs, pytest.raises(WindowClosed) as caught:
            await channel.send(outgoing())
    assert caught.value.code == "131047" and not caught.value.retryable
    assert TOKEN not in caught.value.reason and TOKEN not in repr(logs) and TOKEN not in channel.describe()


async def test_mark_read() -> None:
    async with channel_with_meta() as (channel, meta):
        await channel.mark_read("wamid.ABC")
    assert meta.reads == ["wamid.ABC"] and meta.problems == []


async def test_templates_are_listed_across_pages_and_created() -> None:
    async with channel_with_meta(page_size=2) as (channel, meta):
        for i in range(5):
            meta.add_template(f"t{i}", "en_US", "UTILITY", "APPROVED", "Hi {{1}}, order {{2}} ships {{1}}")
        templates = await channel.list_templates()
        body = {"type": "BODY", "text": "Hi {{1}}!", "example": {"body_text": [["Kerry"]]}}
        created = await channel.create_template("new", "en_US", "utility", [body])
    assert [t["name"] for t in templates] == ["t0", "t1", "t2", "t3", "t4"]
    assert all("fields=" in r.target for r in meta.requests if r.method == "GET")  # asks for rejected_reason too
    assert templates[0]["id"] == "1" and templates[0]["reason"] == "NONE"
    assert templates[0]["status"] == "approved" and templates[0]["components"][0]["variables"] == 2
    assert created["status"] == "PENDING" and meta.created[0]["category"] == "UTILITY"
    assert meta.problems == []


# --- classify ------------------------------------------------------------------------------------------------------


def graph_error(code: int, message: str = "Something") -> dict[str, Any]:
    return {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1"}}


@pytest.mark.parametrize(
    ("status", "payload", "kind", "retryable", "code"),
    [
        pytest.param(429, {}, Throttled, True, None, id="http-429"),
        *[pytest.param(400, graph_error(c), Throttled, True, None, id=f"throttle-{c}")
          for c in (4, 80007, 130429, 131048, 131056)],
        pytest.param(503, {}, Unreachable, True, None, id="http-503"),
        pytest.param(400, graph_error(131053), Unreachable, True, None, id="media-upload-131053"),
        pytest.param(401, graph_error(190), TokenRejected, True, None, id="token-190"),
        pytest.param(401, {}, TokenRejected, True, None, id="http-401"),
        pytest.param(400, graph_error(131047), WindowClosed, False, "131047", id="window-131047"),
        pytest.param(400, graph_error(131026), NotOnWhatsApp, False, "131026", id="not-on-whatsapp-131026"),
        pytest.param(400, graph_error(100, "Invalid parameter"), Rejected, False, "100", id="other-4xx"),
        pytest.param(400, "not json", Rejected, False, "400", id="no-error-json"),
    ],
)  # fmt: skip
def test_classify(status: int, payload: object, kind: type[DeliveryError], retryable: bool, code: str | None) -> None:
    error = classify(status, payload)
    assert type(error) is kind and error.retryable is retryable
    if code is not None:
        assert isinstance(error, Rejected) and error.code == code
    if status == 401 or "190" in error.reason:
        assert "access token" in error.reason


# --- media ---------------------------------------------------------------------------------------------------------


async def fetch(channel: WhatsAppChannel, ref: str, max_bytes: int = 10_000) -> tuple[bytes, str]:
    chunks: list[bytes] = []

    async def write(chunk: bytes) -> None:
        chunks.append(chunk)

    kind = await channel.fetch_media(ref, write, max_bytes=max_bytes)
    return b"".join(chunks), kind


async def test_media_is_fetched_with_the_bearer() -> None:
    async with channel_with_meta() as (channel, meta):
        media_id = meta.add_media(b"\xff\xd8jpeg-bytes", "image/jpeg")
        body, kind = await fetch(channel, media_id)
    assert (body, kind) == (b"\xff\xd8jpeg-bytes", "image/jpeg") and meta.problems == []


@pytest.mark.parametrize(
    ("declared", "size", "max_bytes"),
    [pytest.param(None, 50, 10, id="declared-too-big"), pytest.param(5, 50, 10, id="too-big-while-reading")],
)
async def test_media_size_limit(declared: int | None, size: int, max_bytes: int) -> None:
    async with channel_with_meta() as (channel, meta):
        media_id = meta.add_media(b"x" * size, "image/jpeg")
        if declared is not None:
            meta.declared_size[media_id] = declared
        with pytest.raises(MediaUnavailable) as caught:
            await fetch(channel, media_id, max_bytes)
        downloads = [r for r in meta.requests if r.path.startswith("/download/")]
    assert not caught.value.retryable and "larger" in caught.value.reason
    assert len(downloads) == (0 if declared is None else 1)


@pytest.mark.parametrize(
    ("status", "retryable"), [pytest.param(404, False, id="404"), pytest.param(503, True, id="503")]
)
async def test_media_lookup_errors(status: int, retryable: bool) -> None:
    async with HttpSink(status, b'{"error": {"code": 100}}') as graph:
        channel = WhatsAppChannel("wa", phone_number_id="1", waba_id="2", access_token=TOKEN, api_base=graph.url)
        await channel.start()
        with pytest.raises(MediaUnavailable) as caught:
            await fetch(channel, "123456")
        await channel.stop()
    assert caught.value.retryable is retryable and TOKEN not in caught.value.reason


async def test_media_redirect_to_another_host_loses_the_bearer() -> None:
    async with channel_with_meta() as (channel, meta), HttpSink(200, b"cdn-bytes", content_type="image/png") as cdn:
        media_id = meta.add_media(b"unused", "image/png")
        meta.redirects[media_id] = cdn.url.replace("127.0.0.1", "localhost") + "/file.png"
        body, _ = await fetch(channel, media_id)
    assert body == b"cdn-bytes"
    assert [r.headers.get("authorization") for r in cdn.requests] == [None]


async def test_media_link_is_fetchable_by_meta() -> None:
    async with HttpSink(200, b"picture", content_type="image/jpeg") as host, FakeMeta() as meta:
        response = await meta.fetch_link(host.url + "/media/abc")
    assert response.status_code == 200 and response.content == b"picture"


# --- webhooks ------------------------------------------------------------------------------------------------------

META = FakeMeta(access_token=TOKEN)  # only its pure builders (envelope, inbound, status) are used here
WAMID = "wamid.HBgLMTU1NTc2NTQzMjEVAgASGBQzQTk4"


def parse_one(body: bytes) -> Inbound | Receipt | WebhookProblem:
    [item] = parse_webhook(json.loads(body))
    assert item.phone_number_id == META.phone_number_id
    return item.event


@pytest.mark.parametrize(
    ("kind", "part", "text", "media", "extra"),
    [
        pytest.param("text", {"body": "Hello"}, "Hello", (), {}, id="text"),
        *[pytest.param(k, {"id": "9876", "mime_type": "x/y", "caption": "cap"}, "cap", ("9876",), {}, id=k)
          for k in ("image", "video", "document", "sticker")],
        pytest.param("audio", {"id": "55", "mime_type": "audio/ogg"}, "", ("55",), {}, id="audio"),
        pytest.param("voice", {"id": "56", "mime_type": "audio/ogg"}, "", ("56",), {}, id="voice"),
        pytest.param("location", {"latitude": -1.95, "longitude": 30.06, "name": "Office", "address": "KN 3"},
                     "Office\nKN 3\nhttps://www.openstreetmap.org/?mlat=-1.950000&mlon=30.060000", (), {},
                     id="location"),
        pytest.param("button", {"text": "Yes", "payload": "YES_1"}, "Yes", (), {"reply_id": "YES_1"}, id="button"),
        pytest.param("interactive", {"type": "button_reply", "button_reply": {"id": "b1", "title": "Confirm"}},
                     "Confirm", (), {"reply_id": "b1"}, id="interactive-button"),
        pytest.param("interactive", {"type": "list_reply", "list_reply": {"id": "r2", "title": "Tuesday"}},
                     "Tuesday", (), {"reply_id": "r2"}, id="interactive-list"),
        pytest.param("reaction", {"message_id": "wamid.X", "emoji": "👍"}, "reacted 👍 to wamid.X", (),
                     {"reaction_to": "wamid.X"}, id="reaction"),
        pytest.param("order", {"catalog_id": "1"}, "", (), {"type": "unsupported", "raw_type": "order"},
                     id="unknown-type"),
    ],
)  # fmt: skip
def test_parse_messages(
    kind: str, part: dict[str, Any], text: str, media: tuple[str, ...], extra: dict[str, str]
) -> None:
    event = parse_one(META.inbound(kind=kind, part=part, timestamp=1764505381, wamid=WAMID))
    assert isinstance(event, Inbound)
    assert (event.sender, event.to, event.text, event.media) == ("+15557654321", "+15551230001", text, media)
    assert event.carrier_id == WAMID and event.channel == "whatsapp"
    assert event.received_at == datetime(2025, 11, 30, 12, 23, 1, tzinfo=UTC)  # exact: the window counts from it
    assert event.extra == {"type": kind, "profile_name": "Kerry Fisher"} | extra


def test_parse_contacts_and_reply_context() -> None:
    cards = [{"name": {"formatted_name": "Ann Lee"}, "phones": [{"phone": "+1 555 000 1111"}]}]
    raw = json.loads(META.inbound(kind="contacts", part={}, wamid=WAMID))
    message = raw["entry"][0]["changes"][0]["value"]["messages"][0]
    message["contacts"] = cards
    message["context"] = {"from": "15551230001", "id": "wamid.ORIGINAL"}
    [item] = parse_webhook(raw)
    assert isinstance(item.event, Inbound)
    assert item.event.text == "shared contacts: Ann Lee: +1 555 000 1111"
    assert json.loads(item.event.extra["vcard"]) == cards and item.event.extra["reply_to"] == "wamid.ORIGINAL"


def test_contact_without_phone_number() -> None:
    message = {
        "from_user_id": "US.1234",
        "id": WAMID,
        "timestamp": "1764505381",
        "type": "text",
        "text": {"body": "hi"},
    }
    contact = {"profile": {"name": "K", "username": "kfisher"}, "user_id": "US.1234"}
    [item] = parse_webhook(json.loads(META.envelope({"contacts": [contact], "messages": [message]})))
    assert isinstance(item.event, Inbound) and item.event.sender == ""
    assert item.event.extra["external_id"] == "US.1234" and item.event.extra["username"] == "kfisher"


@pytest.mark.parametrize(
    ("status", "state", "err"),
    [
        pytest.param("sent", "sent", "", id="sent"),
        pytest.param("delivered", "delivered", "", id="delivered"),
        pytest.param("read", "read", "", id="read"),
        pytest.param("failed", "failed", "131026", id="failed"),
        pytest.param("deleted", "unknown", "", id="other"),
    ],
)
def test_parse_statuses(status: str, state: str, err: str) -> None:
    event = parse_one(META.status(WAMID, status, error_code=int(err) if err else None))
    assert isinstance(event, Receipt)
    assert (event.carrier_id, event.state, event.stat, event.err) == (WAMID, state, status, err)
    assert event.done_at is not None


def test_same_message_twice_gives_the_same_id_and_groups_are_skipped() -> None:
    body = json.loads(META.inbound(wamid=WAMID))
    value = body["entry"][0]["changes"][0]["value"]
    value["messages"] = [value["messages"][0], value["messages"][0], value["messages"][0] | {"group_id": "G1"}]
    value["errors"] = [{"code": 131000, "title": "Something went wrong"}]
    items = parse_webhook(body)
    assert [getattr(i.event, "carrier_id", None) for i in items[:2]] == [WAMID, WAMID]
    assert items[2].event == WebhookProblem("131000", "Something went wrong") and len(items) == 3


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        pytest.param(lambda m: m.pop("id"), "id", id="no-id"),
        pytest.param(lambda m: m.update(timestamp="yesterday"), "timestamp", id="bad-timestamp"),
        pytest.param(lambda m: m.update(**{"from": "+1 555"}), "from", id="bad-from"),
        pytest.param(lambda m: m.update(text="hi"), "text", id="text-not-object"),
        pytest.param(lambda m: m.update(type=7), "type", id="type-not-string"),
    ],
)
def test_malformed_messages(mutate: Any, field: str) -> None:
    body = json.loads(META.inbound(wamid=WAMID))
    mutate(body["entry"][0]["changes"][0]["value"]["messages"][0])
    with pytest.raises(WhatsAppWebhookError) as caught:
        parse_webhook(body)
    assert caught.value.field.endswith(field)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param([], id="list"),
        pytest.param({"entry": "x"}, id="entry"),
        pytest.param({"entry": [{"changes": [{"value": {}}]}]}, id="no-metadata"),
    ],
)
def test_malformed_envelopes(payload: object) -> None:
    with pytest.raises(WhatsAppWebhookError):
        parse_webhook(payload)


SECRET = "app-secret-123"
BODY = b'{"object":"whatsapp_business_account"}'
GOOD = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("secret", "body", "header", "ok"),
    [
        pytest.param(SECRET, BODY, GOOD, True, id="good"),
        pytest.param(SECRET, BODY, GOOD.upper().replace("SHA256", "sha256"), True, id="upper-hex"),
        pytest.param(SECRET, BODY + b" ", GOOD, False, id="body-changed"),
        pytest.param("other", BODY, GOOD, False, id="wrong-secret"),
        pytest.param(SECRET, BODY, None, False, id="missing"),
        pytest.param(SECRET, BODY, GOOD.removeprefix("sha256="), False, id="no-scheme"),
        pytest.param(SECRET, BODY, "sha1=" + GOOD[7:], False, id="sha1"),
        pytest.param(SECRET, BODY, "sha256=zz", False, id="garbage"),
        pytest.param("", BODY, GOOD, False, id="no-secret"),
    ],
)
def test_verify_signature(secret: str, body: bytes, header: str | None, ok: bool) -> None:
    assert verify_signature(secret, body, header) is ok


def test_fake_meta_signs_as_meta() -> None:
    meta = FakeMeta(app_secret=SECRET)
    body = meta.inbound()
    assert verify_signature(SECRET, body, meta.sign(body)["X-Hub-Signature-256"])


@pytest.mark.parametrize(
    ("params", "answer"),
    [
        pytest.param({"hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "42"}, "42", id="good"),
        pytest.param(
            {"hub.mode": "subscribe", "hub.verify_token": "no", "hub.challenge": "42"}, None, id="wrong-token"
        ),
        pytest.param({"hub.mode": "unsubscribe", "hub.verify_token": "vt", "hub.challenge": "42"}, None, id="mode"),
        pytest.param({"hub.mode": "subscribe", "hub.verify_token": "vt"}, None, id="no-challenge"),
        pytest.param({}, None, id="empty"),
    ],
)
def test_verify_handshake(params: dict[str, str], answer: str | None) -> None:
    assert verify_handshake(params, "vt") == answer
