from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding as KeyEncoding
from cryptography.hazmat.primitives.serialization import PublicFormat

from parley.channels.base import Inbound, MediaRef, MediaUnavailable, Outgoing, Receipt, Sent
from parley.channels.telnyx import (
    OPT_OUT_CODES,
    TelnyxChannel,
    TelnyxEventError,
    carrier_key,
    classify,
    parse_event,
    verify_signature,
)
from parley.core import delivery
from parley.core.delivery import DeliveryError, Rejected, Throttled, TimedOut, Unreachable
from parley.core.text import Encoding
from tests.support.fake_telnyx import FakeTelnyx
from tests.support.http_sink import HttpSink

API_KEY = "KEY0190ABCDEF_secret-telnyx-key"
WEBHOOK = "https://sms.example.com/api/v2/webhooks/telnyx"
FROM, TO = "+15551230001", "+15557654321"
PICTURE = MediaRef("https://sms.example.com/media/abc?sig=1", "image/png", 1234, "cat.png")
CLIP = MediaRef("https://sms.example.com/media/def?sig=2", "video/mp4", 5678, "clip.mp4")

Handler = Callable[[httpx.Request], httpx.Response] | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


def outgoing(text: str = "Hello", media: tuple[MediaRef, ...] = (), **kwargs: Any) -> Outgoing:
    return Outgoing(id="m1", sender=FROM, to=TO, text=text, encoding=Encoding.GSM7, media=media, **kwargs)


@asynccontextmanager
async def started(handler: Handler, **kwargs: Any) -> AsyncIterator[TelnyxChannel]:
    options: dict[str, Any] = {"webhook_url": WEBHOOK, "api_base": "https://api.telnyx.test"} | kwargs
    channel = TelnyxChannel("telnyx", API_KEY, transport=httpx.MockTransport(handler), **options)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()


def accepted(request: httpx.Request, message_id: str = "40385f64-5717-4562-b3fc-2c963f66afa6") -> httpx.Response:
    body = json.loads(request.content)
    to = [{"phone_number": body["to"], "status": "queued"}]
    return httpx.Response(200, json={"data": {"record_type": "message", "id": message_id, "to": to}})


# --- the request ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "options", "expected"),
    [
        pytest.param(
            outgoing("Hello"), {}, {"from": FROM, "to": TO, "text": "Hello", "webhook_url": WEBHOOK}, id="sms"
        ),
        pytest.param(
            outgoing("Look", (PICTURE, CLIP)),
            {},
            {"from": FROM, "to": TO, "text": "Look", "media_urls": [PICTURE.url, CLIP.url], "webhook_url": WEBHOOK},
            id="mms-with-text-media-in-order",
        ),
        pytest.param(
            outgoing("", (PICTURE,)),
            {},
            {"from": FROM, "to": TO, "media_urls": [PICTURE.url], "webhook_url": WEBHOOK},
            id="mms-without-text-omits-text",
        ),
        pytest.param(
            outgoing("Hi"),
            {"messaging_profile_id": "16fd2706-8baf-433b-82eb-8c7fada847da"},
            {
                "from": FROM,
                "to": TO,
                "text": "Hi",
                "webhook_url": WEBHOOK,
                "messaging_profile_id": "16fd2706-8baf-433b-82eb-8c7fada847da",
            },
            id="messaging-profile-id-when-configured",
        ),
        pytest.param(outgoing("Hi"), {"webhook_url": None}, {"from": FROM, "to": TO, "text": "Hi"}, id="no-webhook"),
        pytest.param(
            Outgoing(id="m2", sender="Acme", to=TO, text="Ünïcode ✓", encoding=Encoding.UCS2),
            {},
            {"from": "Acme", "to": TO, "text": "Ünïcode ✓", "webhook_url": WEBHOOK},
            id="alphanumeric-sender-and-unicode",
        ),
    ],
)
async def test_send_posts_the_documented_json_with_bearer_auth(
    message: Outgoing, options: dict[str, Any], expected: dict[str, Any]
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return accepted(request)

    async with started(handler, **options) as channel:
        sent = await channel.send(message)

    assert sent == Sent(carrier_ids=("40385f64-5717-4562-b3fc-2c963f66afa6",), status="sending")
    [request] = seen
    assert (request.method, str(request.url)) == ("POST", "https://api.telnyx.test/v2/messages")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == expected


async def test_before_submit_runs_right_before_the_request() -> None:
    order: list[str] = []

    async def before() -> None:
        order.append("journalled")

    def handler(request: httpx.Request) -> httpx.Response:
        order.append("posted")
        return accepted(request)

    async with started(handler) as channel:
        await channel.send(outgoing(before_submit=before))
    assert order == ["journalled", "posted"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(httpx.Response(200, text="OK"), Sent(), id="200-not-json-is-sent-without-an-id"),
        pytest.param(httpx.Response(200, json={"data": {}}), Sent(), id="200-without-id"),
        pytest.param(
            httpx.Response(200, json={"data": {"id": "x" * 150}}),
            Sent(carrier_ids=(carrier_key("x" * 150),), status="sending"),
            id="an-id-that-cannot-be-a-key-is-hashed",
        ),
    ],
)
async def test_odd_successful_answers(answer: httpx.Response, expected: Sent) -> None:
    async with started(lambda _: answer) as channel:
        assert await channel.send(outgoing()) == expected
    assert carrier_key("x" * 150).startswith("sha256:") and len(carrier_key("x" * 150)) <= 100


async def test_the_fake_telnyx_takes_every_field_over_real_http() -> None:
    async with FakeTelnyx(API_KEY) as telnyx:
        channel = TelnyxChannel("telnyx", API_KEY, api_base=telnyx.url, webhook_url=WEBHOOK, messaging_profile_id="p1")
        await channel.start()
        try:
            sms = await channel.send(outgoing("Hello"))
            mms = await channel.send(outgoing("", (PICTURE, CLIP)))
        finally:
            await channel.stop()

    assert telnyx.problems == []
    first, second = telnyx.messages
    assert sms == Sent(carrier_ids=(first.id,), status="sending")
    assert mms == Sent(carrier_ids=(second.id,), status="sending")
    assert (first.sender, first.to, first.text, first.media_urls) == (FROM, TO, "Hello", ())
    assert (second.text, second.media_urls, second.webhook_url) == (None, (PICTURE.url, CLIP.url), WEBHOOK)
    assert second.messaging_profile_id == "p1"


# --- errors --------------------------------------------------------------------------------------------------------


def errors(code: str | int, title: str = "", detail: str = "") -> dict[str, Any]:
    return {"errors": [{"code": code, "title": title, "detail": detail}]}


@pytest.mark.parametrize(
    ("status", "payload", "error", "code", "said"),
    [
        pytest.param(
            400, errors("40310", "Invalid 'to' address", "The 'to' address should be a single valid number."),
            Rejected, "40310", "Telnyx 40310: Invalid 'to' address The 'to' address", id="invalid-destination",
        ),
        pytest.param(
            400, errors("40300", "Blocked due to STOP message", "Messages cannot be sent from '+1…' to '+1…'"),
            Rejected, "40300", "Blocked due to STOP message", id="recipient-replied-stop",
        ),
        pytest.param(403, errors("40300", "Blocked due to STOP message"), Rejected, "40300", "STOP", id="stop-as-403"),
        pytest.param(403, errors("10035", "Resource locked"), Rejected, "10035", "Resource locked", id="locked-403"),
        pytest.param(422, {"errors": [errors("40305")["errors"][0], errors("1")["errors"][0]]}, Rejected, "40305",
                     "Telnyx 40305", id="first-of-several-errors"),
        pytest.param(400, None, Rejected, "400", "Telnyx error (HTTP 400)", id="not-json-keeps-http-status"),
        pytest.param(400, errors(10015, "Bad Request"), Rejected, "10015", "Bad Request", id="numeric-code"),
        pytest.param(400, {"errors": "no"}, Rejected, "400", "(HTTP 400)", id="errors-not-a-list"),
        pytest.param(401, errors("10009", "Authentication failed"), Unreachable, None, "check the transport's api_key",
                     id="auth-failed-is-retried"),
        pytest.param(403, errors("10010", "Authorization failed"), Unreachable, None, "api_key", id="forbidden-key"),
        pytest.param(403, None, Unreachable, None, "api_key", id="403-without-a-code"),
        pytest.param(429, errors("10011", "Too many requests"), Throttled, None, "Too many requests", id="429"),
        pytest.param(408, errors("10008", "Request timeout"), TimedOut, None, "Request timeout", id="408"),
        pytest.param(500, errors("10007", "Unexpected error"), Unreachable, None, "HTTP 500", id="500"),
        pytest.param(503, None, Unreachable, None, "HTTP 503", id="503-no-body"),
    ],
)  # fmt: skip
def test_classify_maps_telnyx_errors(
    status: int, payload: object, error: type[DeliveryError], code: str | None, said: str
) -> None:
    found = classify(status, payload)
    assert type(found) is error
    assert found.retryable == (error is not Rejected)
    assert getattr(found, "code", None) == code
    assert said in found.reason


def test_the_stop_code_is_an_opt_out_for_the_dispatcher_too() -> None:
    assert classify(400, errors("40300", "Blocked due to STOP message")).code in OPT_OUT_CODES  # type: ignore[attr-defined]
    assert "40310" not in OPT_OUT_CODES
    assert OPT_OUT_CODES <= delivery.OPT_OUT_CODES


async def test_a_failed_answer_raises_the_classified_error() -> None:
    answer = httpx.Response(400, json=errors("40310", "Invalid 'to' address"))
    async with started(lambda _: answer) as channel:
        with pytest.raises(Rejected) as caught:
            await channel.send(outgoing())
    assert caught.value.code == "40310"


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


async def never_answers(request: httpx.Request) -> httpx.Response:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        pytest.param(raising(httpx.ConnectError("refused")), Unreachable, id="connect-error"),
        pytest.param(raising(httpx.RemoteProtocolError("reset")), Unreachable, id="connection-dropped"),
        pytest.param(raising(httpx.ReadTimeout("slow")), TimedOut, id="read-timeout"),
        pytest.param(never_answers, TimedOut, id="never-answers"),
    ],
)
async def test_transport_failures_are_retryable(handler: Handler, error: type[DeliveryError]) -> None:
    async with started(handler, timeout=0.05) as channel:
        with pytest.raises(error) as caught:
            await channel.send(outgoing())
    assert caught.value.retryable


async def test_a_closed_port_is_unreachable() -> None:
    async with HttpSink() as sink:
        url = sink.url
    channel = TelnyxChannel("telnyx", API_KEY, api_base=url, webhook_url=None)
    await channel.start()
    try:
        with pytest.raises(Unreachable):
            await channel.send(outgoing())
    finally:
        await channel.stop()


async def test_send_before_start_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        await TelnyxChannel("telnyx", API_KEY, webhook_url=None).send(outgoing())


# --- events --------------------------------------------------------------------------------------------------------


def event(
    event_type: str, payload: dict[str, Any], occurred_at: str = "2026-11-24T12:00:01.000+00:00"
) -> dict[str, Any]:
    data = {"record_type": "event", "id": "e1", "event_type": event_type, "occurred_at": occurred_at,
            "payload": payload}  # fmt: skip
    return {"data": data, "meta": {"attempt": 1}}


def status_event(status: str, event_type: str = "message.finalized", errors: object = ()) -> dict[str, Any]:
    payload = {"id": "msg-1", "direction": "outbound", "to": [{"phone_number": TO, "status": status}],
               "errors": list(errors) if isinstance(errors, tuple) else errors}  # fmt: skip
    return event(event_type, payload)


def received(**overrides: Any) -> dict[str, Any]:
    payload = {"id": "in-1", "direction": "inbound", "type": "SMS", "from": {"phone_number": TO},
               "to": [{"phone_number": FROM, "status": "webhook_delivered"}], "text": "Hi there", "media": [],
               "received_at": "2026-11-24T11:59:59.500Z"} | overrides  # fmt: skip
    return event("message.received", payload)


DONE = datetime(2026, 11, 24, 12, 0, 1, tzinfo=UTC)
ARRIVED = datetime(2026, 11, 24, 11, 59, 59, 500000, UTC)


@pytest.mark.parametrize(
    ("status", "state"),
    [
        pytest.param("queued", "sending", id="queued"),
        pytest.param("sending", "sending", id="sending"),
        pytest.param("sent", "sent", id="sent"),
        pytest.param("delivered", "delivered", id="delivered"),
        pytest.param("delivery_unconfirmed", "sent", id="delivery-unconfirmed"),
        pytest.param("sending_failed", "failed", id="sending-failed"),
        pytest.param("delivery_failed", "undelivered", id="delivery-failed"),
        pytest.param("webhook_delivered", "unknown", id="other-status-is-unknown"),
        pytest.param("a-very-long-status-word", "unknown", id="long-status-cut-to-16"),
    ],
)
def test_status_events_map_telnyx_statuses(status: str, state: str) -> None:
    assert parse_event(status_event(status), default_region="US") == Receipt("msg-1", state, status[:16], "", DONE)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("errors", "err"),
    [
        pytest.param([{"code": "40008", "title": "Undeliverable"}, {"code": "40001"}], "40008", id="first-code"),
        pytest.param([{"code": 40300}], "40300", id="numeric-code"),
        pytest.param([{"code": "4" * 40}], "4" * 16, id="cut-to-16"),
        pytest.param([{"code": "40\x0008"}], "4008", id="unprintable-dropped"),
        pytest.param([{"code": 10**5000}], "", id="enormous-number"),
        pytest.param([{"code": True}], "", id="boolean"),
        pytest.param([], "", id="no-errors"),
        pytest.param(None, "", id="errors-null"),
        pytest.param(["x"], "", id="error-not-an-object"),
    ],
)
def test_the_first_error_code_is_kept(errors: object, err: str) -> None:
    receipt = parse_event(status_event("delivery_failed", errors=errors), default_region="US")
    assert isinstance(receipt, Receipt) and receipt.err == err


def test_message_sent_is_a_receipt_too() -> None:
    assert parse_event(status_event("sent", "message.sent"), default_region="US") == Receipt(
        "msg-1", "sent", "sent", "", DONE
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            received(),
            Inbound(TO, FROM, "Hi there", carrier_id="in-1", received_at=ARRIVED),
            id="sms",
        ),
        pytest.param(
            received(type="MMS", text="", media=[{"url": "https://m.telnyx.test/a.jpg", "content_type": "image/jpeg"},
                                                 {"url": "https://m.telnyx.test/b.png", "content_type": "image/png"}]),
            Inbound(TO, FROM, "", carrier_id="in-1", received_at=ARRIVED,
                    media=("https://m.telnyx.test/a.jpg", "https://m.telnyx.test/b.png"), channel="mms"),
            id="mms-media-in-order",
        ),
        pytest.param(
            received(type="MMS", text=None, received_at=None),
            Inbound(TO, FROM, "", carrier_id="in-1", received_at=DONE, channel="mms"),
            id="mms-type-without-media-and-occurred-at",
        ),
        pytest.param(
            received(media=[{"url": "https://m.telnyx.test/a.jpg"}]),
            Inbound(TO, FROM, "Hi there", carrier_id="in-1",
                    received_at=ARRIVED,
                    media=("https://m.telnyx.test/a.jpg",), channel="mms"),
            id="media-makes-it-mms-whatever-the-type",
        ),
        pytest.param(
            received(**{"from": {"phone_number": "(555) 765-4321"}}, received_at="not a date"),
            Inbound(TO, FROM, "Hi there", carrier_id="in-1", received_at=DONE),
            id="national-number-and-bad-date-falls-back",
        ),
    ],
)  # fmt: skip
def test_message_received_is_an_inbound_message(body: dict[str, Any], expected: Inbound) -> None:
    assert parse_event(body, default_region="US") == expected


@pytest.mark.parametrize(
    "event_type", ["message.delivered", "call.initiated", "number_order.complete", "10dlc.campaign.update"]
)
def test_other_events_are_none(event_type: str) -> None:
    assert parse_event(event(event_type, {}), default_region="US") is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param([], "body", id="not-an-object"),
        pytest.param({}, "data", id="no-data"),
        pytest.param({"data": {"payload": {}}}, "data.event_type", id="no-event-type"),
        pytest.param({"data": {"event_type": 7}}, "data.event_type", id="event-type-not-a-string"),
        pytest.param(event("message.received", None), "data.payload", id="no-payload"),  # type: ignore[arg-type]
        pytest.param(received(id=""), "data.payload.id", id="empty-id"),
        pytest.param(received(to=[]), "data.payload.to", id="no-recipient"),
        pytest.param(received(to=["+1"]), "data.payload.to[0]", id="recipient-not-an-object"),
        pytest.param(received(**{"from": None}), "data.payload.from", id="no-from"),
        pytest.param(received(**{"from": {"phone_number": "12"}}), "data.payload.from.phone_number", id="bad-from"),
        pytest.param(received(to=[{"phone_number": "abc"}]), "data.payload.to[0].phone_number", id="bad-to"),
        pytest.param(received(text=["Hi"]), "data.payload.text", id="text-not-a-string"),
        pytest.param(received(media="x"), "data.payload.media", id="media-not-a-list"),
        pytest.param(received(media=[{"url": "https://m/a"}] * 11), "data.payload.media", id="too-many-media"),
        pytest.param(received(media=[{"url": "file:///etc/passwd"}]), "data.payload.media[0].url", id="not-http"),
        pytest.param(received(media=[{}]), "data.payload.media[0].url", id="media-without-url"),
        pytest.param(received(media=[{"url": "https://m/a b"}]), "data.payload.media[0].url", id="url-with-space"),
        pytest.param(status_event(None), "data.payload.to[0].status", id="no-status"),  # type: ignore[arg-type]
        pytest.param(status_event("sent", errors="x"), "data.payload.errors", id="errors-not-a-list"),
    ],
)
def test_malformed_events_name_the_field(body: object, field: str) -> None:
    with pytest.raises(TelnyxEventError) as caught:
        parse_event(body, default_region="US")
    assert caught.value.field == field


# --- signatures ----------------------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
BODY = json.dumps(received()).encode()


def public_b64(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes(KeyEncoding.Raw, PublicFormat.Raw)).decode()


def signed(key: Ed25519PrivateKey, timestamp: str, body: bytes = BODY) -> str:
    return base64.b64encode(key.sign(timestamp.encode() + b"|" + body)).decode()


TS = str(int(NOW.timestamp()))


def ts(offset: int) -> str:
    return str(int(NOW.timestamp()) + offset)


@pytest.mark.parametrize(
    ("public_key", "timestamp", "body", "signature", "expected"),
    [
        pytest.param(public_b64(KEY), TS, BODY, signed(KEY, TS), True, id="good"),
        pytest.param(public_b64(KEY), ts(-240), BODY, signed(KEY, ts(-240)),
                     True, id="four-minutes-old"),
        pytest.param(public_b64(OTHER), TS, BODY, signed(KEY, TS), False, id="wrong-key"),
        pytest.param(public_b64(KEY), TS, BODY + b" ", signed(KEY, TS), False, id="tampered-body"),
        pytest.param(public_b64(KEY), ts(1), BODY, signed(KEY, TS), False,
                     id="timestamp-not-the-signed-one"),
        pytest.param(public_b64(KEY), ts(-301), BODY,
                     signed(KEY, ts(-301)), False, id="stale"),
        pytest.param(public_b64(KEY), ts(301), BODY,
                     signed(KEY, ts(301)), False, id="future"),
        pytest.param(public_b64(KEY), None, BODY, signed(KEY, TS), False, id="missing-timestamp"),
        pytest.param(public_b64(KEY), TS, BODY, None, False, id="missing-signature"),
        pytest.param(public_b64(KEY), TS, BODY, "not base64!", False, id="bad-base64-signature"),
        pytest.param(public_b64(KEY), TS, BODY, signed(KEY, TS)[:-8], False, id="short-signature"),
        pytest.param("not base64!", TS, BODY, signed(KEY, TS), False, id="bad-base64-key"),
        pytest.param(base64.b64encode(b"k" * 31).decode(), TS, BODY, signed(KEY, TS), False, id="key-of-31-bytes"),
        pytest.param(public_b64(KEY), f"{TS}.5", BODY, signed(KEY, f"{TS}.5"), False, id="timestamp-not-digits"),
        pytest.param(public_b64(KEY), "9" * 5000, BODY, signed(KEY, TS), False, id="enormous-timestamp"),
    ],
)  # fmt: skip
def test_signatures(public_key: str, timestamp: str | None, body: bytes, signature: str | None, expected: bool) -> None:
    assert verify_signature(public_key, timestamp, body, signature, NOW) is expected


# --- media ---------------------------------------------------------------------------------------------------------


class Written:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def __call__(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


async def test_fetch_media_streams_the_bytes_and_sends_no_credentials() -> None:
    picture = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    async with FakeTelnyx(API_KEY) as telnyx:
        url = telnyx.serve(picture, "image/png")
        channel = TelnyxChannel("telnyx", API_KEY, api_base=telnyx.url, webhook_url=None)
        await channel.start()
        written = Written()
        try:
            content_type = await channel.fetch_media(url, written, max_bytes=len(picture))
        finally:
            await channel.stop()

    assert (content_type, written.data) == ("image/png", picture)
    [request] = telnyx.requests
    assert request.method == "GET" and request.target == url.removeprefix(telnyx.url)
    assert "authorization" not in request.headers
    assert API_KEY not in repr(request)


async def test_fetch_media_follows_redirects_without_credentials() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "media.telnyx.test":
            return httpx.Response(302, headers={"location": "https://bucket.s3.test/obj?sig=1"})
        return httpx.Response(200, content=b"GIF89a", headers={"content-type": "image/gif"})

    async with started(handler) as channel:
        written = Written()
        assert await channel.fetch_media("https://media.telnyx.test/x", written, max_bytes=100) == "image/gif"
    assert written.data == b"GIF89a"
    assert [r.url.host for r in seen] == ["media.telnyx.test", "bucket.s3.test"]
    assert all("authorization" not in r.headers for r in seen)


async def test_fetch_media_stops_reading_past_the_limit() -> None:
    produced: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for i in range(1000):
            produced.append(i)
            yield b"x" * 1000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless(), headers={"content-type": "video/mp4"})  # chunked, no length

    async with started(handler) as channel:
        written = Written()
        with pytest.raises(MediaUnavailable) as caught:
            await channel.fetch_media("https://media.telnyx.test/big", written, max_bytes=5_500)
    assert not caught.value.retryable
    assert "5,500 bytes" in caught.value.reason
    assert len(written.data) <= 5_500
    assert len(produced) < 1000  # it stopped reading: not read whole and measured afterwards


async def test_fetch_media_refuses_a_declared_length_over_the_limit_before_writing() -> None:
    async with HttpSink(200, b"y" * 2000, content_type="image/jpeg") as sink:
        channel = TelnyxChannel("telnyx", API_KEY, api_base=sink.url, webhook_url=None)
        await channel.start()
        written = Written()
        try:
            with pytest.raises(MediaUnavailable) as caught:
                await channel.fetch_media(f"{sink.url}/m.jpg", written, max_bytes=1999)
        finally:
            await channel.stop()
    assert not caught.value.retryable and written.chunks == []


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        pytest.param(404, False, id="404"),
        pytest.param(403, False, id="403-expired-signature"),
        pytest.param(410, False, id="410"),
        pytest.param(400, False, id="400"),
        pytest.param(429, True, id="429"),
        pytest.param(500, True, id="500"),
        pytest.param(503, True, id="503"),
    ],
)
async def test_fetch_media_failures_say_whether_to_retry(status: int, retryable: bool) -> None:
    async with HttpSink(status, b"<Error/>", content_type="application/xml") as sink:
        channel = TelnyxChannel("telnyx", API_KEY, api_base=sink.url, webhook_url=None)
        await channel.start()
        try:
            with pytest.raises(MediaUnavailable) as caught:
                await channel.fetch_media(f"{sink.url}/m.jpg", Written(), max_bytes=1000)
        finally:
            await channel.stop()
    assert caught.value.retryable is retryable
    assert f"HTTP {status}" in caught.value.reason


@pytest.mark.parametrize(
    ("handler", "ref", "retryable"),
    [
        pytest.param(raising(httpx.ConnectError("refused")), "https://m.test/a", True, id="connect-error"),
        pytest.param(raising(httpx.ReadTimeout("slow")), "https://m.test/a", True, id="read-timeout"),
        pytest.param(never_answers, "https://m.test/a", True, id="never-answers"),
        pytest.param(raising(AssertionError("no request")), "ftp://m.test/a", False, id="not-http"),
    ],
)
async def test_fetch_media_transport_failures(handler: Handler, ref: str, retryable: bool) -> None:
    async with started(handler, media_timeout=0.05) as channel:
        with pytest.raises(MediaUnavailable) as caught:
            await channel.fetch_media(ref, Written(), max_bytes=1000)
    assert caught.value.retryable is retryable


# --- secrets -------------------------------------------------------------------------------------------------------


async def test_the_api_key_never_reaches_a_log_or_an_error() -> None:
    def echoing(request: httpx.Request) -> httpx.Response:  # a server that quotes the header back
        return httpx.Response(401, json=errors("10009", "Authentication failed", request.headers["authorization"]))

    reasons: list[str] = []
    with structlog.testing.capture_logs() as logs:
        for handler in (echoing, raising(httpx.ConnectError(f"refused Bearer {API_KEY}"))):
            async with started(handler) as channel:
                with pytest.raises(DeliveryError) as caught:
                    await channel.send(outgoing())
                reasons += [caught.value.reason, str(caught.value), channel.describe(), repr(channel)]
        async with started(lambda _: httpx.Response(500)) as channel:
            with pytest.raises(MediaUnavailable) as media_error:
                await channel.fetch_media("https://m.test/a", Written(), max_bytes=10)
            reasons.append(str(media_error.value))

    assert "Authentication failed" in reasons[0]  # the reason still says what happened
    for text in [*reasons, repr(logs)]:
        assert API_KEY not in text


async def test_timestamps_of_now_verify_with_the_default_tolerance() -> None:
    """The fake's signing and the channel's check agree on the wall clock."""
    async with FakeTelnyx(API_KEY) as telnyx:
        body = telnyx.event("message.sent", {"id": "x"})
        headers = telnyx.sign(body)
    now = datetime.now(UTC)
    assert verify_signature(telnyx.public_key_b64, headers["telnyx-timestamp"], body,
                            headers["telnyx-signature-ed25519"], now)  # fmt: skip
    assert not verify_signature(telnyx.public_key_b64, headers["telnyx-timestamp"], body,
                                headers["telnyx-signature-ed25519"], now + timedelta(minutes=6))  # fmt: skip
