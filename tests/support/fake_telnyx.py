"""A local "Telnyx" over real HTTP on 127.0.0.1, for the channel's tests and end-to-end tests.

It speaks the Messaging API v2 as `parley.channels.telnyx` documents it, checks every ``POST /v2/messages`` field by
field, signs its webhooks with an Ed25519 key pair of its own, exactly as Telnyx does, and serves the pictures of the
inbound MMS it sends::

    async with FakeTelnyx(api_key="KEY-test") as telnyx:
        # provision a telnyx transport: api_key, public_key = telnyx.public_key_b64, api_base = telnyx.url
        ...                                             # Parley sends a message
        [sent] = telnyx.messages                        # what it accepted (`problems` lists what it refused)
        fetched = await telnyx.fetch_media(sent)        # GETs each media_url as Telnyx does; status, bytes, type
        await telnyx.send_status(sent, "message.finalized", status="delivered")   # to sent.webhook_url
        await telnyx.send_inbound(url, sender="+15557654321", to="+15551230001", text="Hi",
                                  pictures=[(PNG, "image/png")])                  # an MMS it serves itself

Webhooks and media fetches go through ``client`` when one is given (an in-process app's ASGI client), else a plain
httpx client. ``fail_next(status, code, title, detail)`` makes the next send answer with Telnyx's error JSON.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.support.http_sink import HttpSink, RecordedRequest, SinkResponse

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
ALPHA_SENDER = re.compile(r"[A-Za-z0-9 ]{1,11}")
KNOWN_FIELDS = {"from", "to", "text", "media_urls", "webhook_url", "webhook_failover_url", "messaging_profile_id",
                "subject", "use_profile_webhooks", "type", "auto_detect"}  # fmt: skip


@dataclass(frozen=True)
class SentMessage:
    """A ``POST /v2/messages`` the fake accepted."""

    id: str
    sender: str
    to: str
    text: str | None
    media_urls: tuple[str, ...]
    webhook_url: str | None
    messaging_profile_id: str | None
    request: RecordedRequest


@dataclass(frozen=True)
class FetchedMedia:
    url: str
    status: int
    content_type: str | None
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Failure:
    status: int
    code: str
    title: str
    detail: str


class FakeTelnyx:
    def __init__(self, api_key: str = "KEY-fake-telnyx", *, client: httpx.AsyncClient | None = None) -> None:
        self.api_key = api_key
        self.client = client
        self._key = Ed25519PrivateKey.generate()
        self.public_key_b64 = base64.b64encode(
            self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        ).decode()
        self.messages: list[SentMessage] = []
        self.problems: list[str] = []  # why requests were refused (a test expects none)
        self.media: dict[str, tuple[bytes, str]] = {}  # what it serves under /media/<token>
        self._failures: list[_Failure] = []
        self._sink = HttpSink(respond=self._respond)

    @property
    def url(self) -> str:
        return self._sink.url

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request it received, the API's and its media host's."""
        return self._sink.requests

    async def __aenter__(self) -> FakeTelnyx:
        await self._sink.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._sink.__aexit__(exc_type, exc, tb)

    def fail_next(self, status: int, code: str, title: str, detail: str = "") -> None:
        """The next accepted-looking send is answered with this error instead."""
        self._failures.append(_Failure(status, code, title, detail))

    def serve(self, body: bytes, content_type: str) -> str:
        """A pre-signed-looking URL under which it serves ``body``."""
        token = secrets.token_urlsafe(16)
        self.media[token] = (body, content_type)
        return f"{self.url}/media/{token}?X-Amz-Signature={secrets.token_hex(8)}"

    # --- the API ---------------------------------------------------------------------------------------------------

    def _respond(self, request: RecordedRequest) -> SinkResponse:
        if request.method == "GET" and request.path.startswith("/media/"):
            found = self.media.get(request.path.removeprefix("/media/"))
            if found is None:
                return SinkResponse(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
            return SinkResponse(200, found[0], found[1])
        if (request.method, request.path) != ("POST", "/v2/messages"):
            return _error(404, "10005", "Resource not found", f"{request.method} {request.path}")
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            self.problems.append("Authorization: not the Bearer API key")
            return _error(401, "10009", "Authentication failed", "The required authentication headers were invalid")
        problems = _check(request)
        if problems:
            self.problems += problems
            return _error(400, "10015", "Bad Request", "; ".join(problems))
        if self._failures:
            failure = self._failures.pop(0)
            return _error(failure.status, failure.code, failure.title, failure.detail)
        return self._accept(request, json.loads(request.body))

    def _accept(self, request: RecordedRequest, body: dict[str, Any]) -> SinkResponse:
        media = tuple(body.get("media_urls", ()))
        sent = SentMessage(str(uuid.uuid4()), body["from"], body["to"], body.get("text"), media,
                           body.get("webhook_url"), body.get("messaging_profile_id"), request)  # fmt: skip
        self.messages.append(sent)
        data = _record(sent, "queued") | {"record_type": "message", "direction": "outbound"}
        return SinkResponse(200, json.dumps({"data": data}))

    # --- what Telnyx does on its own -------------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        return self.client or httpx.AsyncClient()

    async def fetch_media(self, message: SentMessage) -> list[FetchedMedia]:
        """GET each ``media_urls`` entry of a sent MMS, as Telnyx does before it sends it (no credentials)."""
        fetched = []
        client = self._http()
        try:
            for url in message.media_urls:
                response = await client.get(url, follow_redirects=True)
                fetched.append(FetchedMedia(url, response.status_code, response.headers.get("content-type"),
                                            response.content, dict(response.headers)))  # fmt: skip
        finally:
            if client is not self.client:
                await client.aclose()
        return fetched

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """The headers Telnyx sends with ``body``: its Ed25519 signature over ``timestamp|body``."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = base64.b64encode(self._key.sign(ts.encode() + b"|" + body)).decode()
        return {"telnyx-signature-ed25519": signature, "telnyx-timestamp": ts, "content-type": "application/json"}

    def event(self, event_type: str, payload: dict[str, Any], url: str = "") -> bytes:
        """A webhook body as Telnyx sends it."""
        occurred = datetime.now(UTC).isoformat(timespec="milliseconds")
        data = {"record_type": "event", "id": str(uuid.uuid4()), "event_type": event_type, "occurred_at": occurred,
                "payload": payload}  # fmt: skip
        return json.dumps({"data": data, "meta": {"attempt": 1, "delivered_to": url}}).encode()

    async def post(self, url: str, body: bytes, *, timestamp: int | None = None) -> httpx.Response:
        """POST a signed webhook body to ``url``."""
        client = self._http()
        try:
            return await client.post(url, content=body, headers=self.sign(body, timestamp))
        finally:
            if client is not self.client:
                await client.aclose()

    async def send_status(
        self,
        message: SentMessage,
        event_type: str = "message.finalized",
        *,
        status: str = "delivered",
        errors: list[dict[str, str]] | None = None,
        url: str | None = None,
    ) -> httpx.Response:
        """A ``message.sent`` or ``message.finalized`` for a sent message, to its ``webhook_url`` (or ``url``)."""
        target = url or message.webhook_url
        assert target, "the message named no webhook_url: pass url="
        payload = _record(message, status) | {"record_type": "message", "direction": "outbound",
                                              "errors": errors or [],
                                              "completed_at": datetime.now(UTC).isoformat()}  # fmt: skip
        return await self.post(target, self.event(event_type, payload, target))

    async def send_inbound(
        self,
        url: str,
        *,
        sender: str,
        to: str,
        text: str = "",
        pictures: Sequence[tuple[bytes, str]] = (),
        message_id: str | None = None,
    ) -> tuple[httpx.Response, str, list[str]]:
        """A ``message.received`` (an MMS when ``pictures`` are given, served by this fake); returns the answer,
        the message's id and the media URLs."""
        media = [{"url": self.serve(body, kind), "content_type": kind, "size": len(body),
                  "hash_sha256": hashlib.sha256(body).hexdigest()} for body, kind in pictures]  # fmt: skip
        message_id = message_id or str(uuid.uuid4())
        payload = {
            "record_type": "message", "direction": "inbound", "id": message_id, "type": "MMS" if media else "SMS",
            "from": {"phone_number": sender, "carrier": "T-Mobile USA", "line_type": "Wireless"},
            "to": [{"phone_number": to, "status": "webhook_delivered", "carrier": "Telnyx", "line_type": "VoIP"}],
            "text": text, "media": media, "encoding": "GSM-7", "parts": 1,
            "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }  # fmt: skip
        response = await self.post(url, self.event("message.received", payload, url))
        return response, message_id, [m["url"] for m in media]


def _record(sent: SentMessage, status: str) -> dict[str, Any]:
    return {
        "id": sent.id, "type": "MMS" if sent.media_urls else "SMS", "messaging_profile_id": sent.messaging_profile_id,
        "from": {"phone_number": sent.sender, "carrier": "Telnyx", "line_type": "VoIP"},
        "to": [{"phone_number": sent.to, "status": status, "carrier": "T-Mobile USA", "line_type": "Wireless"}],
        "text": sent.text, "media": [{"url": u, "content_type": None, "sha256": None, "size": None}
                                     for u in sent.media_urls],
        "webhook_url": sent.webhook_url, "encoding": "GSM-7", "parts": 1,
    }  # fmt: skip


def _error(status: int, code: str, title: str, detail: str) -> SinkResponse:
    return SinkResponse(status, json.dumps({"errors": [{"code": code, "title": title, "detail": detail}]}))


def _check(request: RecordedRequest) -> list[str]:
    """What is wrong with a ``POST /v2/messages``, field by field (empty: nothing)."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        return [f"Content-Type: {request.headers.get('content-type')!r} is not application/json"]
    try:
        body = json.loads(request.body)
    except ValueError:
        return ["body: not JSON"]
    if not isinstance(body, dict):
        return ["body: not a JSON object"]
    problems = [f"{name}: not a field of POST /v2/messages" for name in sorted(set(body) - KNOWN_FIELDS)]
    sender, to = body.get("from"), body.get("to")
    if not isinstance(sender, str) or not (E164.fullmatch(sender) or ALPHA_SENDER.fullmatch(sender)):
        problems.append(f"from: {sender!r} is neither E.164 nor an alphanumeric sender ID")
    if not isinstance(to, str) or not E164.fullmatch(to):
        problems.append(f"to: {to!r} is not one E.164 number")
    text, media = body.get("text"), body.get("media_urls")
    if "text" in body and not isinstance(text, str):
        problems.append(f"text: {text!r} is not a string")
    if "media_urls" in body:
        if not isinstance(media, list) or not 1 <= len(media) <= 10:
            problems.append("media_urls: must be a list of 1 to 10 URLs (left out when there is no media)")
        elif not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in media):
            problems.append(f"media_urls: {media!r} are not all http(s) URLs")
    if not text and not media:
        problems.append("text: required when there is no media")
    for name in ("webhook_url", "webhook_failover_url"):
        value = body.get(name)
        if name in body and not (isinstance(value, str) and value.startswith(("http://", "https://"))):
            problems.append(f"{name}: {value!r} is not an http(s) URL")
    if "messaging_profile_id" in body and not isinstance(body["messaging_profile_id"], str):
        problems.append("messaging_profile_id: not a string")
    return problems
