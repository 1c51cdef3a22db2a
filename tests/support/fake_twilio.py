"""A local "Twilio" for tests, over real HTTP on 127.0.0.1, speaking the documented wire format (see
docs/wire-formats, Twilio): the Messages REST resource, inbound media behind Basic auth with a CDN redirect, and
the signed webhooks Twilio sends (status callbacks, inbound SMS/MMS).

    async with FakeTwilio() as twilio:
        channel = TwilioChannel("twilio", twilio.account_sid, twilio.auth_token, api_base=twilio.url,
                                status_callback="http://127.0.0.1:8080/api/v2/webhooks/twilio/status")
        await channel.start(); await channel.send(outgoing)
        [sent] = twilio.requests                  # every Messages.json request, checked field by field
        assert sent.problems == [] and sent.sid.startswith("SM")
        fetched = await twilio.fetch_media_of(sent)         # Twilio fetching each MediaUrl it was given
        await twilio.post_status(sent, ["sent", "delivered"])   # signed callbacks to its StatusCallback
        await twilio.send_inbound(parley_url + "/api/v2/webhooks/twilio", pictures=2)  # a signed inbound MMS
        twilio.fail(21211)                        # the next create answers Twilio's error 21211 (HTTP 400)

Webhooks go through ``client`` when one is given (an in-process app's ``httpx.ASGITransport`` client), else a fresh
``httpx.AsyncClient``; ``signed_url`` is the URL to sign when it differs from the one posted to (a proxy in between,
PARLEY_PUBLIC_URL). Signatures are computed here from Twilio's documentation, not with Parley's own code, so that
a mistake on one side is not mirrored on the other.

Two servers: ``url`` (the API, and the media URLs of inbound messages) and ``cdn_url`` (where those media URLs
redirect, like Twilio's CDN: no credentials expected, and ``cdn_requests`` shows whether any were sent).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from types import TracebackType
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.support.http_sink import HttpSink, RecordedRequest, SinkResponse

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
API_VERSION = "2010-04-01"
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
ALPHANUMERIC = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 +\-_&]{1,11}")
KNOWN_FIELDS = {"To", "From", "Body", "MediaUrl", "StatusCallback", "MessagingServiceSid", "ValidityPeriod"}
# The HTTP status Twilio answers with for an error code (400 for the others).
ERROR_STATUS = {20003: 401, 20404: 404, 20429: 429, 20500: 500, 20503: 503}
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    21211: "The 'To' number is not a valid phone number.",
    21212: "The 'From' number is not a valid phone number, shortcode, or alphanumeric sender ID.",
    21602: "Message body is required.",
    21603: "The 'From' phone number is required.",
    21604: "The 'To' phone number is required.",
    21609: "Invalid StatusCallback url",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21620: "Invalid media URL(s)",
    21623: "Number of media files exceeds allowed limit",
    30001: "Queue overflow",
}


def twilio_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """``X-Twilio-Signature``: base64 HMAC-SHA1 (key: the auth token) of the URL followed by each parameter's name
    and value, sorted by name (a repeated name: each of its values, sorted)."""
    data = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def tiny_png(rgb: tuple[int, int, int], size: int = 8) -> bytes:
    """A valid PNG of one colour (so that code sniffing image types accepts it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PICTURE_COLOURS = [(220, 40, 40), (40, 160, 60), (40, 80, 220), (230, 180, 20), (150, 50, 180)]


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _now() -> str:
    return format_datetime(datetime.now(UTC).replace(microsecond=0))  # RFC 2822: "Tue, 24 Nov 2026 12:00:00 +0000"


def _error_body(code: int, message: str | None, status: int) -> bytes:
    return json.dumps({
        "code": code, "message": message or ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status,
    }).encode()  # fmt: skip


@dataclass
class MessageRequest:
    """One request to Messages.json as the fake received it, and what it answered."""

    raw: RecordedRequest
    form: dict[str, list[str]]
    auth: tuple[str, str] | None  # the Basic credentials, decoded
    problems: list[str]  # what does not follow the documented format; empty for a good request
    status: int  # the HTTP status answered
    sid: str | None = None  # SM… / MM… when the message was accepted (201)

    def one(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None

    @property
    def to(self) -> str | None:
        return self.one("To")

    @property
    def sender(self) -> str | None:
        return self.one("From")

    @property
    def body(self) -> str | None:
        return self.one("Body")

    @property
    def media_urls(self) -> list[str]:
        return self.form.get("MediaUrl", [])

    @property
    def status_callback(self) -> str | None:
        return self.one("StatusCallback")


@dataclass(frozen=True)
class FetchedMedia:
    """One MediaUrl as the fake fetched it (status 0: no HTTP answer, ``error`` says why)."""

    url: str
    status: int
    content_type: str
    body: bytes
    error: str = ""


@dataclass(frozen=True)
class ServedMedia:
    url: str  # on the API server, behind Basic auth
    cdn_path: str  # where it redirects
    content_type: str
    data: bytes
    status: int = 200  # what the media URL answers: 200 redirects to the CDN; a 404 or a 503 is answered itself


@dataclass(frozen=True)
class InboundSent:
    response: httpx.Response
    params: list[tuple[str, str]]
    sid: str
    media: list[ServedMedia] = field(default_factory=list)


@dataclass
class _Failure:
    code: int | None
    status: int
    message: str | None
    body: bytes | None
    content_type: str
    times: int | None


class FakeTwilio:
    def __init__(
        self,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        *,
        media_auth: bool = True,
        require_status_callback: bool = True,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.media_auth = media_auth  # Twilio's "HTTP Basic Authentication for media access"
        self.require_status_callback = require_status_callback
        self.requests: list[MessageRequest] = []
        self.fetched: list[FetchedMedia] = []
        self.api = HttpSink(respond=self._answer_api)
        self.cdn = HttpSink(respond=self._answer_cdn)
        self._media: dict[str, ServedMedia] = {}  # by API path
        self._cdn: dict[str, ServedMedia] = {}  # by CDN path
        self._failures: list[_Failure] = []
        self._colours = itertools.cycle(PICTURE_COLOURS)

    async def __aenter__(self) -> FakeTwilio:
        await self.api.__aenter__()
        await self.cdn.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.cdn.__aexit__(exc_type, exc, tb)
        await self.api.__aexit__(exc_type, exc, tb)

    @property
    def url(self) -> str:
        """The API base (a transport's ``api_base``)."""
        return self.api.url

    @property
    def cdn_url(self) -> str:
        return self.cdn.url

    @property
    def api_requests(self) -> list[RecordedRequest]:
        return self.api.requests

    @property
    def cdn_requests(self) -> list[RecordedRequest]:
        return self.cdn.requests

    def sign(self, url: str, params: Iterable[tuple[str, str]], auth_token: str | None = None) -> str:
        return twilio_signature(url, params, auth_token or self.auth_token)

    # -- the Messages resource ---------------------------------------------------------------------------------------

    def fail(
        self,
        code: int | None = None,
        *,
        status: int | None = None,
        message: str | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        times: int | None = 1,
    ) -> None:
        """Answer the next ``times`` good creates (None: all of them) with Twilio's error JSON for ``code``, or
        with ``status`` and a raw ``body`` (a proxy's HTML page, say)."""
        answer = status or ERROR_STATUS.get(code or 0, 400)
        self._failures.append(_Failure(code, answer, message, body, content_type, times))

    def _answer_api(self, request: RecordedRequest) -> SinkResponse:
        if request.method == "GET" and request.path in self._media:
            return self._answer_media(request, self._media[request.path])
        messages = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"
        if request.method != "POST" or request.path != messages:
            return _twilio_error(20404)
        auth = _basic(request.headers.get("authorization", ""))
        form, problems = _read_form(request)
        if auth != (self.account_sid, self.auth_token):
            problems.append("Basic auth is not AccountSid:AuthToken")
            return self._record(request, form, auth, problems, _twilio_error(20003))
        code = self._check(form, problems)
        if code is not None:
            return self._record(request, form, auth, problems, _twilio_error(code))
        if self._failures:
            failure = self._failures[0]
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.pop(0)
            if failure.body is not None:
                answer = SinkResponse(failure.status, failure.body, failure.content_type)
            else:
                answer = _twilio_error(failure.code or 0, failure.status, failure.message)
            return self._record(request, form, auth, problems, answer)
        media = form.get("MediaUrl", [])
        sid = _sid("MM" if media else "SM")
        body = (form.get("Body") or [""])[0]
        now = _now()
        answer = {
            "account_sid": self.account_sid, "api_version": API_VERSION, "body": body, "date_created": now,
            "date_sent": None, "date_updated": now, "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": form["From"][0], "messaging_service_sid": None,
            "num_media": str(len(media)), "num_segments": str(_segments(body)), "price": None, "price_unit": "USD",
            "sid": sid, "status": "queued", "to": form["To"][0],
            "subresource_uris": {"media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }  # fmt: skip
        return self._record(request, form, auth, problems, SinkResponse(201, json.dumps(answer)), sid)

    def _record(
        self,
        request: RecordedRequest,
        form: dict[str, list[str]],
        auth: tuple[str, str] | None,
        problems: list[str],
        answer: SinkResponse,
        sid: str | None = None,
    ) -> SinkResponse:
        self.requests.append(MessageRequest(request, form, auth, problems, answer.status, sid))
        return answer

    def _check(self, form: dict[str, list[str]], problems: list[str]) -> int | None:
        """The error code Twilio would answer for this form (None: it is good); every problem goes to ``problems``."""
        codes: list[int] = []

        def problem(code: int, text: str) -> None:
            codes.append(code)
            problems.append(text)

        for name, values in form.items():
            if name not in KNOWN_FIELDS:
                problems.append(f"unexpected field {name}")
            if name != "MediaUrl" and len(values) > 1:
                problems.append(f"{name} is given {len(values)} times")
        to, sender = (form.get("To") or [""])[0], (form.get("From") or [""])[0]
        if not to:
            problem(21604, "To is missing")
        elif not E164.fullmatch(to.removeprefix("whatsapp:")):
            problem(21211, f"To {to!r} is not E.164")
        if not sender:
            problem(21603, "From is missing")
        elif not (E164.fullmatch(sender.removeprefix("whatsapp:")) or ALPHANUMERIC.fullmatch(sender)):
            problem(21212, f"From {sender!r} is neither E.164 nor an alphanumeric sender ID")
        body, media = (form.get("Body") or [""])[0], form.get("MediaUrl", [])
        if not body and not media:
            problem(21602, "neither Body nor MediaUrl")
        if len(body) > 1600:
            problem(21617, f"Body has {len(body)} characters")
        if len(media) > 10:
            problem(21623, f"{len(media)} MediaUrl values")
        if any(urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc for url in media):
            problem(21620, f"a MediaUrl is not an absolute http(s) URL: {media}")
        callback = (form.get("StatusCallback") or [""])[0]
        if callback and urlsplit(callback).scheme not in ("http", "https"):
            problem(21609, f"StatusCallback {callback!r} is not an http(s) URL")
        elif not callback and self.require_status_callback:
            problem(21609, "StatusCallback is missing")
        return codes[0] if codes else None

    # -- media -------------------------------------------------------------------------------------------------------

    def add_media(
        self, content_type: str, data: bytes, *, message_sid: str | None = None, status: int = 200
    ) -> ServedMedia:
        """Serve a file at a Twilio media URL (behind Basic auth when ``media_auth``), which redirects once to the
        CDN; ``status`` other than 200: the media URL answers that instead (a 404, a 503)."""
        media_sid = _sid("ME")
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{message_sid or _sid('MM')}/Media/{media_sid}"
        cdn_path = f"/{self.account_sid}/{secrets.token_hex(8)}"
        served = ServedMedia(self.url + path, cdn_path, content_type, data, status)
        self._media[path] = self._cdn[cdn_path] = served
        return served

    def _answer_media(self, request: RecordedRequest, served: ServedMedia) -> SinkResponse:
        if self.media_auth and _basic(request.headers.get("authorization", "")) != (self.account_sid, self.auth_token):
            return _twilio_error(20003, headers={"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if served.status != 200:
            status = served.status
            return SinkResponse(status, _error_body(20404, None, status) if status == 404 else b"unavailable")
        # Like the real CDN redirect: a signed, expiring URL on another host.
        location = f"{self.cdn_url}{served.cdn_path}?Expires=1999999999&Signature={secrets.token_hex(8)}"
        return SinkResponse(307, b"", "text/plain", {"Location": location})

    def _answer_cdn(self, request: RecordedRequest) -> SinkResponse:
        served = self._cdn.get(request.path)
        if served is None:
            return SinkResponse(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
        return SinkResponse(200, served.data, served.content_type)

    async def fetch_media_of(self, request: MessageRequest) -> list[FetchedMedia]:
        """Fetch every MediaUrl of a sent message as Twilio does (no credentials, redirects followed)."""
        found: list[FetchedMedia] = []
        async with httpx.AsyncClient(follow_redirects=True, timeout=10) as client:
            for url in request.media_urls:
                try:
                    response = await client.get(url)
                except httpx.HTTPError as exc:
                    found.append(FetchedMedia(url, 0, "", b"", f"{type(exc).__name__}: {exc}"))
                    continue
                content_type = response.headers.get("content-type", "")
                found.append(FetchedMedia(url, response.status_code, content_type, response.content))
        self.fetched += found
        return found

    # -- webhooks ----------------------------------------------------------------------------------------------------

    async def _post(
        self,
        url: str,
        params: list[tuple[str, str]],
        *,
        client: httpx.AsyncClient | None,
        signed_url: str | None,
        signature: str | None,
        headers: Mapping[str, str] | None,
        auth_token: str | None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if signature != "":  # "": no signature header at all
            sent["X-Twilio-Signature"] = signature or self.sign(signed_url or url, params, auth_token)
        sent["Content-Type"] = "application/x-www-form-urlencoded"
        sent["I-Twilio-Idempotency-Token"] = secrets.token_hex(16)
        body = urlencode(params)
        if client is not None:
            return await client.post(url, content=body, headers=sent)
        async with httpx.AsyncClient(timeout=10) as own:
            return await own.post(url, content=body, headers=sent)

    async def post_status(
        self,
        message: MessageRequest | str,
        statuses: Sequence[str] = ("sent", "delivered"),
        *,
        error_code: str | None = None,
        url: str | None = None,
        client: httpx.AsyncClient | None = None,
        signed_url: str | None = None,
        signature: str | None = None,
        headers: Mapping[str, str] | None = None,
        auth_token: str | None = None,
        account_sid: str | None = None,
    ) -> list[httpx.Response]:
        """POST one status callback per status to the message's StatusCallback (or ``url``), as Twilio does.

        ``message``: a request the fake accepted, or a MessageSid. ``error_code`` goes with failed/undelivered.
        """
        if isinstance(message, MessageRequest):
            sid, to, sender = message.sid or "", message.to or "", message.sender or ""
            target = url or message.status_callback
        else:
            sid, to, sender, target = message, "+15557654321", "+15551230001", url
        if not target:
            raise ValueError("no StatusCallback to post to: give url=")
        answers: list[httpx.Response] = []
        for status in statuses:
            params = [
                ("SmsSid", sid), ("SmsStatus", status), ("MessageStatus", status), ("To", to), ("MessageSid", sid),
                ("AccountSid", account_sid or self.account_sid), ("From", sender), ("ApiVersion", API_VERSION),
            ]  # fmt: skip
            if status in ("failed", "undelivered") and error_code:
                params.append(("ErrorCode", error_code))
            if status in ("delivered", "undelivered"):
                params.append(("RawDlrDoneDate", datetime.now(UTC).strftime("%y%m%d%H%M")))
            answers.append(
                await self._post(target, params, client=client, signed_url=signed_url, signature=signature,
                                 headers=headers, auth_token=auth_token)
            )  # fmt: skip
        return answers

    async def send_inbound(
        self,
        url: str,
        *,
        sender: str = "+15557654321",
        to: str = "+15551230001",
        body: str = "",
        pictures: int = 0,
        media: Sequence[tuple[str, bytes]] = (),
        client: httpx.AsyncClient | None = None,
        signed_url: str | None = None,
        signature: str | None = None,
        headers: Mapping[str, str] | None = None,
        auth_token: str | None = None,
        account_sid: str | None = None,
    ) -> InboundSent:
        """POST an inbound SMS, or an MMS with ``pictures`` PNGs (and/or ``media`` files) served by this fake at
        ``MediaUrl{N}``, to Parley's webhook ``url``, signed as Twilio signs."""
        files = [("image/png", tiny_png(next(self._colours))) for _ in range(pictures)] + list(media)
        sid = _sid("MM" if files else "SM")
        served = [self.add_media(content_type, data, message_sid=sid) for content_type, data in files]
        params = [
            ("ToCountry", "US"), ("ToState", "NY"), ("SmsMessageSid", sid), ("NumMedia", str(len(served))),
            ("ToCity", ""), ("FromZip", ""), ("SmsSid", sid), ("FromState", "CA"), ("SmsStatus", "received"),
            ("FromCity", ""), ("Body", body), ("FromCountry", "US"), ("To", to), ("ToZip", ""),
            ("NumSegments", "1"), ("MessageSid", sid), ("AccountSid", account_sid or self.account_sid),
            ("From", sender), ("ApiVersion", API_VERSION),
        ]  # fmt: skip
        for i, item in enumerate(served):
            params += [(f"MediaContentType{i}", item.content_type), (f"MediaUrl{i}", item.url)]
        response = await self._post(url, params, client=client, signed_url=signed_url, signature=signature,
                                    headers=headers, auth_token=auth_token)  # fmt: skip
        return InboundSent(response, params, sid, served)


def _twilio_error(
    code: int, status: int | None = None, message: str | None = None, headers: dict[str, str] | None = None
) -> SinkResponse:
    answer = status or ERROR_STATUS.get(code, 400)
    return SinkResponse(answer, _error_body(code, message, answer), "application/json", headers or {})


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, colon, password = base64.b64decode(value, validate=True).decode().partition(":")
    except ValueError:
        return None
    return (user, password) if colon else None


def _read_form(request: RecordedRequest) -> tuple[dict[str, list[str]], list[str]]:
    """The form as Twilio reads it, and what is wrong with its encoding."""
    problems: list[str] = []
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        problems.append(f"Content-Type is {request.headers.get('content-type')!r}, not a form")
    try:
        text = request.body.decode("ascii")  # form encoding leaves no raw non-ASCII byte
    except UnicodeDecodeError:
        problems.append("the form has raw non-ASCII bytes")
        text = request.body.decode("utf-8", "replace")
    try:
        return parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict"), problems
    except (ValueError, UnicodeDecodeError) as exc:
        problems.append(f"the form does not parse: {exc}")
        return parse_qs(text, keep_blank_values=True), problems


def _segments(body: str) -> int:
    """Roughly as Twilio counts: GSM-7 when ASCII (160, or 153 per part), else UCS-2 (70, or 67)."""
    single, part = (160, 153) if body.isascii() else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // part)
