"""The Twilio channel against a local "Twilio" over real HTTP (tests/support/fake_twilio.py), and its pure parts
(`classify`, `parse_status`) as tables; the redirect rules of media fetches through httpx.MockTransport."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import structlog

from parley.channels.base import MediaRef, MediaUnavailable, Outgoing, Receipt, Sent
from parley.channels.twilio import TwilioChannel, classify, parse_status
from parley.channels.webhook_formats import WebhookError
from parley.core.delivery import DeliveryError, Rejected, Throttled, TimedOut, Unreachable
from parley.core.text import Encoding
from tests.support.fake_twilio import AUTH_TOKEN, FakeTwilio, tiny_png

CALLBACK = "https://sms.example.com/api/v2/webhooks/twilio/status"
COMPANY, CUSTOMER = "+15551230001", "+15557654321"
PNG = tiny_png((1, 2, 3))


def outgoing(text: str = "Hello", *, media: int = 0, sender: str = COMPANY, **kwargs: Any) -> Outgoing:
    refs = tuple(
        MediaRef(f"https://sms.example.com/m/{i}?sig=abc", "image/png", 1000, f"p{i}.png") for i in range(media)
    )
    return Outgoing(id="m1", sender=sender, to=CUSTOMER, text=text, encoding=Encoding.GSM7, media=refs, **kwargs)


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as fake:
        yield fake


@asynccontextmanager
async def running(fake: FakeTwilio, **kwargs: Any) -> AsyncIterator[TwilioChannel]:
    options: dict[str, Any] = {"api_base": fake.url, "status_callback": CALLBACK, "timeout": 5.0}
    options.update(kwargs)
    token = options.pop("auth_token", fake.auth_token)
    channel = TwilioChannel("twilio-us", fake.account_sid, token, **options)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()


# --- sending: the request, field by field ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "fields", "sid_prefix"),
    [
        pytest.param(outgoing(), {"To": [CUSTOMER], "From": [COMPANY], "Body": ["Hello"]}, "SM", id="sms"),
        pytest.param(
            outgoing("Look", media=2),
            {
                "Body": ["Look"],
                "MediaUrl": ["https://sms.example.com/m/0?sig=abc", "https://sms.example.com/m/1?sig=abc"],
            },
            "MM",
            id="mms-with-text-media-urls-in-order",
        ),
        pytest.param(
            outgoing("", media=1),
            {"MediaUrl": ["https://sms.example.com/m/0?sig=abc"]},
            "MM",
            id="mms-without-text-has-no-body",
        ),
        pytest.param(
            outgoing("Hi & bye + 100% = {FROM} ✓ ü"),
            {"Body": ["Hi & bye + 100% = {FROM} ✓ ü"]},
            "SM",
            id="form-encoding-keeps-every-character",
        ),
        pytest.param(outgoing(sender="Acme Inc"), {"From": ["Acme Inc"]}, "SM", id="alphanumeric-sender"),
    ],
)
async def test_a_message_is_posted_as_twilio_documents_it(
    twilio: FakeTwilio, message: Outgoing, fields: dict[str, list[str]], sid_prefix: str
) -> None:
    async with running(twilio) as channel:
        sent = await channel.send(message)
    [request] = twilio.requests
    assert request.problems == []
    assert request.raw.path == f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    assert request.auth == (twilio.account_sid, AUTH_TOKEN)
    assert request.status_callback == CALLBACK
    for name, values in fields.items():
        assert request.form[name] == values, name
    assert ("Body" in request.form) == ("Body" in fields or not message.media)
    assert request.sid is not None and request.sid.startswith(sid_prefix)
    assert sent == Sent(carrier_ids=(request.sid,), status="sending")


async def test_before_submit_runs_once_right_before_the_request(twilio: FakeTwilio) -> None:
    seen: list[int] = []

    async def journal() -> None:
        seen.append(len(twilio.requests))

    async with running(twilio) as channel:
        await channel.send(outgoing(before_submit=journal))
    assert seen == [0] and len(twilio.requests) == 1


async def test_without_a_status_callback_none_is_sent() -> None:
    async with FakeTwilio(require_status_callback=False) as fake, running(fake, status_callback=None) as channel:
        await channel.send(outgoing())
    assert "StatusCallback" not in fake.requests[0].form and fake.requests[0].problems == []


@pytest.mark.parametrize(
    ("message", "words"),
    [
        pytest.param(outgoing(media=11), "at most 10 media", id="eleven-files"),
        pytest.param(
            Outgoing(
                "m1",
                COMPANY,
                CUSTOMER,
                "",
                Encoding.GSM7,
                media=(MediaRef("https://x/1", "image/png", 6_000_000, "big.png"),),
            ),
            "5,242,880 bytes",
            id="over-five-megabytes",
        ),
    ],
)
async def test_media_over_twilios_limits_are_refused_without_a_request(
    twilio: FakeTwilio, message: Outgoing, words: str
) -> None:
    async with running(twilio) as channel:
        with pytest.raises(Rejected, match=words):
            await channel.send(message)
    assert twilio.requests == []


# --- sending: Twilio's errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "error", "kept_code"),
    [
        pytest.param(21211, None, Rejected, "21211", id="21211-invalid-to-is-final"),
        pytest.param(21614, None, Rejected, "21614", id="21614-not-a-mobile-is-final"),
        pytest.param(21610, None, Rejected, "21610", id="21610-replied-stop-keeps-its-code"),
        pytest.param(21612, None, Rejected, "21612", id="21612-cannot-route-is-final"),
        pytest.param(21408, None, Rejected, "21408", id="21408-region-not-enabled-is-final"),
        pytest.param(30006, None, Rejected, "30006", id="30006-landline-is-final"),
        pytest.param(20429, None, Throttled, None, id="20429-too-many-requests-is-throttled"),
        pytest.param(30001, None, Throttled, None, id="30001-queue-overflow-is-throttled"),
        pytest.param(21611, None, Throttled, None, id="21611-sender-queue-full-is-throttled"),
        pytest.param(20003, None, Unreachable, None, id="20003-bad-credentials-is-retried"),
        pytest.param(20500, None, Unreachable, None, id="20500-internal-error-is-retried"),
        pytest.param(12345, 503, Unreachable, None, id="any-5xx-is-retried"),
        pytest.param(12345, 429, Throttled, None, id="any-429-is-throttled"),
        pytest.param(12345, 400, Rejected, "12345", id="an-unknown-4xx-code-is-final"),
    ],
)
async def test_twilio_errors_map_to_delivery_errors(
    twilio: FakeTwilio, code: int, status: int | None, error: type[DeliveryError], kept_code: str | None
) -> None:
    twilio.fail(code, status=status)
    async with running(twilio) as channel:
        with pytest.raises(DeliveryError) as raised:
            await channel.send(outgoing())
    assert type(raised.value) is error
    assert str(code) in raised.value.reason
    if isinstance(raised.value, Rejected):
        assert raised.value.code == kept_code


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        pytest.param(502, b"<html>Bad Gateway</html>", Unreachable, id="proxy-502-page"),
        pytest.param(400, b"not json", Rejected, id="4xx-without-json"),
        pytest.param(404, b"<html>Not Found</html>", Unreachable, id="404-wrong-api-base"),
    ],
)
async def test_answers_that_are_not_twilio_json_still_map(
    twilio: FakeTwilio, status: int, body: bytes, error: type[DeliveryError]
) -> None:
    twilio.fail(status=status, body=body, content_type="text/html")
    async with running(twilio) as channel:
        with pytest.raises(DeliveryError) as raised:
            await channel.send(outgoing())
    assert type(raised.value) is error and f"HTTP {status}" in raised.value.reason
    assert getattr(raised.value, "code", None) is None


async def test_a_wrong_auth_token_is_retried_and_says_to_check_it(twilio: FakeTwilio) -> None:
    async with running(twilio, auth_token="not-the-token") as channel:
        with pytest.raises(Unreachable, match="auth_token") as raised:
            await channel.send(outgoing())
    assert raised.value.retryable and "20003" in raised.value.reason
    assert twilio.requests[0].problems == ["Basic auth is not AccountSid:AuthToken"]


async def test_a_closed_port_is_unreachable(twilio: FakeTwilio) -> None:
    async with FakeTwilio() as gone:
        base = gone.url
    async with running(twilio, api_base=base) as channel:
        with pytest.raises(Unreachable, match="cannot be reached"):
            await channel.send(outgoing())


async def test_a_twilio_that_never_answers_times_out() -> None:
    accepted, finished = asyncio.Event(), asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()  # never answers; returns when the client gives up
        writer.close()
        await writer.wait_closed()
        finished.set()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    channel = TwilioChannel("t", "AC1", "tok", api_base=f"http://127.0.0.1:{port}", status_callback=None, timeout=0.3)
    await channel.start()
    try:
        with pytest.raises(TimedOut, match=r"within 0\.3s"):
            await channel.send(outgoing())
    finally:
        await channel.stop()
        server.close()
        await server.wait_closed()
    await asyncio.wait_for(finished.wait(), 5)  # the client hung up: nothing left open for the next test
    assert accepted.is_set()


@pytest.mark.parametrize(
    ("body", "ids"),
    [
        pytest.param(b'{"status": "queued"}', (), id="json-without-sid"),
        pytest.param(b"OK", (), id="not-json"),
        pytest.param(b'{"sid": "SMabc"}', ("SMabc",), id="sid"),
    ],
)
async def test_a_2xx_is_sent_even_without_a_readable_sid(body: bytes, ids: tuple[str, ...]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, content=body)

    channel = TwilioChannel("t", "AC1", "tok", status_callback=None, transport=httpx.MockTransport(answer))
    await channel.start()
    try:
        assert await channel.send(outgoing()) == Sent(carrier_ids=ids, status="sending")
    finally:
        await channel.stop()


# --- classify: the pure mapping --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "payload", "error", "code"),
    [
        pytest.param(400, {"code": 21211, "message": "bad To", "status": 400}, Rejected, "21211", id="json-code"),
        pytest.param(400, {"code": "21610", "message": "STOP"}, Rejected, "21610", id="code-as-string"),
        pytest.param(400, {"code": True, "message": "odd"}, Rejected, None, id="bool-is-no-code"),
        pytest.param(400, {"message": "no code"}, Rejected, None, id="no-code"),
        pytest.param(400, None, Rejected, None, id="no-body"),
        pytest.param(400, {"code": 20429}, Throttled, None, id="20429-under-400"),
        pytest.param(400, {"code": 20003}, Unreachable, None, id="20003-under-400"),
        pytest.param(401, "Unauthorized", Unreachable, None, id="401-text"),
        pytest.param(404, {"code": 20404, "message": "not found"}, Unreachable, None, id="20404-wrong-account-url"),
        pytest.param(404, {"code": 21211}, Rejected, "21211", id="404-with-a-message-code"),
        pytest.param(302, "", Unreachable, None, id="a-redirect-is-a-wrong-api-base"),
        pytest.param(500, [], Unreachable, None, id="5xx-odd-json"),
        pytest.param(400, {"code": 14107}, Throttled, None, id="14107-rate-limit"),
        pytest.param(400, {"code": 63018}, Throttled, None, id="63018-whatsapp-rate-limit"),
    ],
)
def test_classify(status: int, payload: object, error: type[DeliveryError], code: str | None) -> None:
    result = classify(status, payload)
    assert type(result) is error
    assert getattr(result, "code", None) == code
    assert result.reason and ("Twilio" in result.reason)


# --- status callbacks ------------------------------------------------------------------------------------------------

DONE = datetime(2026, 11, 24, 12, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param(
            {"MessageSid": "SM1", "MessageStatus": "queued"}, Receipt("SM1", "sending", "queued"), id="queued"
        ),
        pytest.param(
            {"MessageSid": "SM1", "MessageStatus": "accepted"}, Receipt("SM1", "sending", "accepted"), id="accepted"
        ),
        pytest.param(
            {"MessageSid": "SM1", "MessageStatus": "sending"}, Receipt("SM1", "sending", "sending"), id="sending"
        ),
        pytest.param(
            {"MessageSid": "SM1", "MessageStatus": "scheduled"}, Receipt("SM1", "sending", "scheduled"), id="scheduled"
        ),
        pytest.param({"MessageSid": "SM1", "MessageStatus": "sent"}, Receipt("SM1", "sent", "sent"), id="sent"),
        pytest.param(
            {"MessageSid": "SM1", "MessageStatus": "delivered", "RawDlrDoneDate": "2611241205"},
            Receipt("SM1", "delivered", "delivered", "", DONE),
            id="delivered-with-dlr-done-date",
        ),
        pytest.param({"MessageSid": "SM1", "MessageStatus": "read"}, Receipt("SM1", "delivered", "read"), id="read"),
        pytest.param(
            {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"},
            Receipt("SM1", "undelivered", "undelivered", "30003"),
            id="undelivered-with-error-code",
        ),
        pytest.param(
            {"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "30006"},
            Receipt("SM1", "failed", "failed", "30006"),
            id="failed-with-error-code",
        ),
        pytest.param(
            {"MessageSid": "SM1", "MessageStatus": "canceled"},
            Receipt("SM1", "unknown", "canceled"),
            id="canceled-is-unknown",
        ),
        pytest.param(
            {"MessageSid": "SM1", "MessageStatus": "partially_delivered"},
            Receipt("SM1", "unknown", "partially_delive"),
            id="stat-cut-to-16",
        ),
        pytest.param(
            {"MessageSid": "SM1", "SmsStatus": "Delivered"},
            Receipt("SM1", "delivered", "Delivered"),
            id="sms-status-any-case",
        ),
        pytest.param({"MessageSid": "SM1"}, Receipt("SM1", "unknown", ""), id="no-status"),
        pytest.param(
            {"MessageSid": " SM1 ", "MessageStatus": "delivered", "RawDlrDoneDate": "2613241205"},
            Receipt("SM1", "delivered", "delivered"),
            id="impossible-done-date-is-dropped",
        ),
        pytest.param(
            {"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "1234567890123456789"},
            Receipt("SM1", "failed", "failed", "1234567890123456"),
            id="error-code-cut-to-16",
        ),
        pytest.param(
            {"MessageSid": "x" * 101, "MessageStatus": "sent"},
            Receipt("sha256:" + "a" * 64, "sent", "sent"),
            id="unstorable-sid-is-hashed",
        ),
    ],
)
def test_parse_status(params: dict[str, str], expected: Receipt) -> None:
    receipt = parse_status(params)
    if expected.carrier_id.startswith("sha256:"):
        assert receipt.carrier_id.startswith("sha256:") and len(receipt.carrier_id) == 71
        expected = Receipt(receipt.carrier_id, expected.state, expected.stat, expected.err, expected.done_at)
    assert receipt == expected


@pytest.mark.parametrize("params", [{}, {"MessageSid": "  ", "MessageStatus": "sent"}], ids=["empty", "blank-sid"])
def test_a_status_callback_without_message_sid_names_the_field(params: dict[str, str]) -> None:
    with pytest.raises(WebhookError) as raised:
        parse_status(params)
    assert raised.value.field == "MessageSid"


# --- media -----------------------------------------------------------------------------------------------------------


class Sink:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def __call__(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


async def test_media_is_fetched_with_basic_auth_and_the_cdn_never_sees_it(twilio: FakeTwilio) -> None:
    served = twilio.add_media("image/png; charset=binary", PNG)
    sink = Sink()
    async with running(twilio) as channel:
        content_type = await channel.fetch_media(served.url, sink, max_bytes=10_000)
    assert (content_type, sink.data) == ("image/png", PNG)
    [api_request] = [r for r in twilio.api_requests if r.method == "GET"]
    expected = "Basic " + base64.b64encode(f"{twilio.account_sid}:{AUTH_TOKEN}".encode()).decode()
    assert api_request.headers["authorization"] == expected
    [cdn_request] = twilio.cdn_requests
    assert "authorization" not in cdn_request.headers
    assert cdn_request.query.startswith("Expires=")  # the redirect was followed as given


async def test_a_media_url_on_another_host_gets_no_credentials(twilio: FakeTwilio) -> None:
    served = twilio.add_media("image/png", PNG)
    async with running(twilio) as channel:
        await channel.fetch_media(twilio.cdn_url + served.cdn_path, Sink(), max_bytes=10_000)
    assert [r.headers.get("authorization") for r in twilio.cdn_requests] == [None]


@pytest.mark.parametrize(
    ("location", "auth_kept"),
    [
        pytest.param("https://api.twilio.com/other/path", True, id="same-origin-keeps-auth"),
        pytest.param("https://media.twiliocdn.com/AC1/x?Signature=s", False, id="other-host-drops-auth"),
        pytest.param("https://api.twilio.com:8443/x", False, id="other-port-drops-auth"),
        pytest.param("http://api.twilio.com/x", False, id="https-to-http-drops-auth"),
    ],
)
async def test_redirects_keep_the_credentials_only_on_the_same_origin(location: str, auth_kept: bool) -> None:
    """httpx's own rule (Client._redirect_headers), which `fetch_media` relies on: proved here, not assumed."""
    seen: list[tuple[str, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization")))
        if len(seen) == 1:
            return httpx.Response(307, headers={"Location": location})
        return httpx.Response(200, content=PNG, headers={"Content-Type": "image/png"})

    channel = TwilioChannel("t", "AC1", "tok", status_callback=None, transport=httpx.MockTransport(answer))
    await channel.start()
    try:
        await channel.fetch_media("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", Sink(),
                                  max_bytes=10_000)  # fmt: skip
    finally:
        await channel.stop()
    assert seen[0][1] is not None
    assert seen[1][0] == location and (seen[1][1] is not None) == auth_kept


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        pytest.param(404, False, id="404-gone-for-good"),
        pytest.param(403, False, id="403"),
        pytest.param(410, False, id="410"),
        pytest.param(400, False, id="other-4xx"),
        pytest.param(503, True, id="503-try-later"),
        pytest.param(500, True, id="500"),
        pytest.param(429, True, id="429"),
    ],
)
async def test_a_media_url_that_fails_says_whether_to_retry(twilio: FakeTwilio, status: int, retryable: bool) -> None:
    served = twilio.add_media("image/png", PNG, status=status)
    sink = Sink()
    async with running(twilio) as channel:
        with pytest.raises(MediaUnavailable) as raised:
            await channel.fetch_media(served.url, sink, max_bytes=10_000)
    assert raised.value.retryable is retryable and f"HTTP {status}" in raised.value.reason
    assert sink.chunks == []


async def test_media_with_the_wrong_token_is_retried_and_says_to_check_it(twilio: FakeTwilio) -> None:
    served = twilio.add_media("image/png", PNG)
    async with running(twilio, auth_token="wrong") as channel:
        with pytest.raises(MediaUnavailable, match="auth_token") as raised:
            await channel.fetch_media(served.url, Sink(), max_bytes=10_000)
    assert raised.value.retryable and twilio.cdn_requests == []


async def test_declared_size_over_the_limit_is_refused_before_reading(twilio: FakeTwilio) -> None:
    served = twilio.add_media("image/png", PNG)
    sink = Sink()
    async with running(twilio) as channel:
        with pytest.raises(MediaUnavailable, match="over 10") as raised:
            await channel.fetch_media(served.url, sink, max_bytes=10)
    assert not raised.value.retryable and sink.chunks == []


async def test_an_undeclared_size_is_enforced_while_reading() -> None:
    pulled: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for i in range(1000):
            pulled.append(i)
            yield b"x" * 1024

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless(), headers={"Content-Type": "video/mp4"})  # chunked: no length

    sink = Sink()
    channel = TwilioChannel("t", "AC1", "tok", status_callback=None, transport=httpx.MockTransport(answer))
    await channel.start()
    try:
        with pytest.raises(MediaUnavailable, match="larger than 4,096 bytes") as raised:
            await channel.fetch_media("https://api.twilio.com/m", sink, max_bytes=4096)
    finally:
        await channel.stop()
    assert not raised.value.retryable
    assert len(sink.data) <= 4096 and len(pulled) < 10  # stopped at the limit, not after the whole body


def failing(exc: Callable[[httpx.Request], Exception]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        raise exc(request)

    return httpx.MockTransport(answer)


@pytest.mark.parametrize(
    ("ref", "transport", "retryable", "words"),
    [
        pytest.param(
            "https://api.twilio.com/m",
            failing(lambda r: httpx.ReadTimeout("slow", request=r)),
            True,
            "in time",
            id="timeout",
        ),
        pytest.param(
            "https://api.twilio.com/m",
            failing(lambda r: httpx.ConnectError("refused", request=r)),
            True,
            "cannot be reached",
            id="connection-refused",
        ),
        pytest.param("ftp://api.twilio.com/m", None, False, r"not an http\(s\) URL", id="not-http"),
        pytest.param("ME0123", None, False, r"not an http\(s\) URL", id="a-bare-id"),
    ],
)
async def test_media_fetch_failures(
    ref: str, transport: httpx.MockTransport | None, retryable: bool, words: str
) -> None:
    channel = TwilioChannel("t", "AC1", "tok", status_callback=None, transport=transport)
    await channel.start()
    try:
        with pytest.raises(MediaUnavailable, match=words) as raised:
            await channel.fetch_media(ref, Sink(), max_bytes=10)
    finally:
        await channel.stop()
    assert raised.value.retryable is retryable


# --- secrets ---------------------------------------------------------------------------------------------------------


async def test_the_auth_token_never_reaches_a_log_a_reason_or_a_repr(twilio: FakeTwilio) -> None:
    reasons: list[str] = []
    with structlog.testing.capture_logs() as logs:
        async with running(twilio) as channel:
            twilio.fail(21211, message=f"echo of {AUTH_TOKEN} from a confused proxy")
            twilio.fail(status=500, body=f"<p>{AUTH_TOKEN}</p>".encode(), content_type="text/html")
            for _ in range(2):
                with pytest.raises(DeliveryError) as raised:
                    await channel.send(outgoing())
                reasons += [raised.value.reason, str(raised.value), repr(raised.value)]
            for status in (401, 404, 503):
                served = twilio.add_media("image/png", PNG, status=status)
                with pytest.raises(MediaUnavailable) as failed:
                    await channel.fetch_media(served.url, Sink(), max_bytes=10)
                reasons += [failed.value.reason, repr(failed.value)]
            described = [channel.describe(), repr(channel), str(vars(channel).get("status_callback"))]
        async with running(twilio, auth_token="wrong-token-xyz") as wrong:
            with pytest.raises(Unreachable) as refused:
                await wrong.send(outgoing())
            reasons.append(refused.value.reason)
    assert any("***" in reason for reason in reasons)  # the echoes were there, and scrubbed
    for text in [*reasons, *described, repr(logs)]:
        assert AUTH_TOKEN not in text and "wrong-token-xyz" not in text


# --- the local Twilio itself (what the end-to-end tests rely on) -----------------------------------------------------


@pytest.mark.parametrize(
    ("form", "headers", "code", "problem"),
    [
        pytest.param(
            {"To": "5557654321", "From": COMPANY, "Body": "x", "StatusCallback": CALLBACK},
            {},
            21211,
            "not E.164",
            id="to-not-e164",
        ),
        pytest.param(
            {"To": CUSTOMER, "Body": "x", "StatusCallback": CALLBACK}, {}, 21603, "From is missing", id="no-from"
        ),
        pytest.param(
            {"To": CUSTOMER, "From": COMPANY, "StatusCallback": CALLBACK}, {}, 21602, "neither Body", id="no-content"
        ),
        pytest.param(
            {"To": CUSTOMER, "From": COMPANY, "Body": "x"},
            {},
            21609,
            "StatusCallback is missing",
            id="no-status-callback",
        ),
        pytest.param(
            {
                "To": CUSTOMER,
                "From": COMPANY,
                "MediaUrl": [f"https://m/{i}" for i in range(11)],
                "StatusCallback": CALLBACK,
            },
            {},
            21623,
            "11 MediaUrl",
            id="eleven-media",
        ),
        pytest.param(
            {"To": CUSTOMER, "From": COMPANY, "Body": "x", "StatusCallback": CALLBACK},
            {"Authorization": "Basic " + base64.b64encode(b"AC1:nope").decode()},
            20003,
            "Basic auth",
            id="wrong-credentials",
        ),
    ],
)
async def test_the_fake_twilio_refuses_what_twilio_refuses(
    twilio: FakeTwilio, form: dict[str, Any], headers: dict[str, str], code: int, problem: str
) -> None:
    url = f"{twilio.url}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    auth = None if "Authorization" in headers else (twilio.account_sid, twilio.auth_token)
    async with httpx.AsyncClient(auth=auth) as client:
        answer = await client.post(url, data=form, headers=headers)
    assert answer.json()["code"] == code and answer.json()["more_info"].endswith(str(code))
    [request] = twilio.requests
    assert request.sid is None and any(problem in p for p in request.problems), request.problems


async def test_the_fake_twilio_fetches_what_it_was_given_and_signs_as_parley_verifies(twilio: FakeTwilio) -> None:
    from parley.channels.webhook_formats import verify_twilio
    from tests.support.http_sink import HttpSink, SinkResponse

    async with HttpSink(respond=lambda r: SinkResponse(200, PNG, "image/png")) as parley:
        message = Outgoing("m1", COMPANY, CUSTOMER, "", Encoding.GSM7, media=(MediaRef(f"{parley.url}/media/1?sig=s",
                           "image/png", len(PNG), "a.png"),))  # fmt: skip
        async with running(twilio, status_callback=f"{parley.url}/status?x=1") as channel:
            await channel.send(message)
        [request] = twilio.requests
        [fetched] = await twilio.fetch_media_of(request)
        await twilio.post_status(request, ["sent", "failed"], error_code="30006")
        inbound = await twilio.send_inbound(f"{parley.url}/inbound", body="Hi", pictures=2)
    assert (fetched.status, fetched.content_type, fetched.body) == (200, "image/png", PNG)
    callbacks = [r for r in parley.requests if r.path == "/status"]
    assert [r.form["MessageStatus"] for r in callbacks] == [["sent"], ["failed"]]
    assert callbacks[1].form["ErrorCode"] == ["30006"] and "ErrorCode" not in callbacks[0].form
    assert callbacks[0].form["MessageSid"] == [request.sid] and callbacks[0].query == "x=1"
    posted = [r for r in parley.requests if r.method == "POST"]
    assert len(posted) == 3
    for r in posted:
        pairs = [(k, v) for k, values in r.form.items() for v in values]
        assert verify_twilio(f"{parley.url}{r.target}", pairs, AUTH_TOKEN, r.headers["x-twilio-signature"])
    [mms] = [r for r in posted if r.path == "/inbound"]
    assert mms.form["NumMedia"] == ["2"] and mms.form["MediaUrl1"] == [inbound.media[1].url]
    assert mms.form["MediaContentType0"] == ["image/png"] and inbound.sid.startswith("MM")
