"""The Telnyx channel: SMS and MMS through Telnyx's Messaging API v2, and reading what its webhooks say.

What this module relies on (Telnyx's public documentation: "Send a message", "Receiving webhooks for messaging",
"Messaging error codes", "API errors", the SDKs' Ed25519 webhook verification):

- **Sending**: ``POST {api_base}/v2/messages`` with ``Authorization: Bearer <API key>`` and a JSON body ``from``
  (E.164, or an alphanumeric sender ID), ``to`` (one E.164 number), ``text``, ``media_urls`` (public URLs Telnyx
  downloads; an MMS), ``webhook_url`` (where this message's status events go, before the messaging profile's) and
  ``messaging_profile_id``. A 200 answers ``{"data": {"id": "<uuid>", "to": [{"phone_number", "status": "queued"}],
  …}}``: queued, not yet sent, so the message becomes "sending" and its status events say the rest.
- **Errors**: ``{"errors": [{"code": "40310", "title": "Invalid 'to' address", "detail": "…"}]}`` with an HTTP
  status. 10009 Authentication failed (401), 10010 Authorization failed (403), 10011 Too many requests (429);
  40300 "Blocked due to STOP message": the recipient opted out (``OPT_OUT_CODES``); 10035 Resource locked (403).
- **Webhooks**: ``{"data": {"record_type": "event", "id", "event_type", "occurred_at", "payload": {…}}, "meta": …}``.
  ``message.received``: payload ``id``, ``type`` (SMS | MMS), ``from.phone_number``, ``to[].phone_number``,
  ``text``, ``media[]`` (``url``, ``content_type``, ``size``, ``hash_sha256``), ``received_at``.
  ``message.sent`` / ``message.finalized``: payload ``id`` (the id the send answer gave), ``to[].status`` (queued,
  sending, sent, delivered, sending_failed, delivery_failed, delivery_unconfirmed), ``errors[]`` as above (delivery
  errors 40001…). Telnyx wants a 2xx within 2 seconds and tries again otherwise.
- **Signing**: ``telnyx-signature-ed25519`` is the base64 of a 64-byte Ed25519 signature over
  ``<telnyx-timestamp>|<raw body>``; ``telnyx-timestamp`` is Unix seconds. The key is the account's public key as the
  portal shows it: base64 of the raw 32 bytes. Refused more than 5 minutes away from now (replays).
- **Inbound media** URLs are short-lived pre-signed links fetched with a plain GET: no credentials go with them.

The module is longer than a channel's usual ~300 lines because the wire's pure functions (`classify`,
`verify_signature`, `parse_event`) live beside the client, as the house keeps a provider in one module.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from parley.channels.base import Inbound, MediaUnavailable, MediaWriter, Outgoing, Receipt, ReceiptState, Sent
from parley.channels.media_download import check_status, copy_limited, download_errors
from parley.core.delivery import DeliveryError, Rejected, Throttled, TimedOut, Unreachable
from parley.core.numbers import InvalidNumber, parse_e164

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
OPT_OUT_CODES = frozenset({"40300"})  # "Blocked due to STOP message": the recipient replied STOP
_AUTH_CODES = frozenset({"10009", "10010"})  # Authentication failed, Authorization failed
_STATES: dict[str, ReceiptState] = {
    "queued": "sending", "sending": "sending", "sent": "sent", "delivered": "delivered",
    "delivery_unconfirmed": "sent", "sending_failed": "failed", "delivery_failed": "undelivered",
}  # fmt: skip
_STATUS_EVENTS = ("message.sent", "message.finalized")
MAX_MEDIA = 10  # attachments of one MMS
MAX_URL_LENGTH = 2048
MAX_ID_LENGTH = 100  # the carrier_id columns


class TelnyxEventError(ValueError):
    """A webhook body that is not a Telnyx event we can read; ``field`` names the part at fault (a 400)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class TelnyxChannel:
    """Sends each message as one ``POST /v2/messages``; fetches inbound attachments (`MediaSource`)."""

    kind: ClassVar[str] = "telnyx"
    carries_mms: ClassVar[bool] = True

    def __init__(
        self,
        name: str,
        api_key: str,
        *,
        messaging_profile_id: str | None = None,
        api_base: str = "https://api.telnyx.com",
        webhook_url: str | None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
        media_timeout: float = 120.0,
    ) -> None:
        self.name = name
        self._api_key = api_key
        self._profile = messaging_profile_id
        self._endpoint = api_base.rstrip("/") + "/v2/messages"
        self._webhook_url = webhook_url
        self._transport = transport
        self._timeout = timeout
        self._media_timeout = media_timeout  # a whole download, however slowly it trickles in
        self._client: httpx.AsyncClient | None = None

    def describe(self) -> str:
        """A line for logs (never the API key)."""
        return f'telnyx channel "{self.name}": {self._endpoint}'

    async def start(self) -> None:
        if self._client is None:
            # No default Authorization: the key goes on API requests only, never to a media host.
            self._client = httpx.AsyncClient(transport=self._transport, headers={"User-Agent": "parley"})

    async def stop(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def request_body(self, msg: Outgoing) -> dict[str, Any]:
        """The JSON of ``POST /v2/messages`` for one message."""
        body: dict[str, Any] = {"from": msg.sender, "to": msg.to}
        if msg.text or not msg.media:
            body["text"] = msg.text
        if msg.media:
            body["media_urls"] = [m.url for m in msg.media]
        if self._webhook_url:
            body["webhook_url"] = self._webhook_url
        if self._profile:
            body["messaging_profile_id"] = self._profile
        return body

    async def send(self, msg: Outgoing) -> Sent:
        if self._client is None:
            raise RuntimeError(f"telnyx channel {self.name!r} is not started")
        body = self.request_body(msg)
        if msg.before_submit is not None:
            await msg.before_submit()
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client.post(
                    self._endpoint, json=body, headers={"Authorization": f"Bearer {self._api_key}"},
                    timeout=self._timeout,
                )  # fmt: skip
                content = response.content
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise TimedOut(f"no answer from Telnyx within {self._timeout:g}s") from exc
        except httpx.RequestError as exc:
            raise Unreachable(self._scrub(f"Telnyx could not be reached: {type(exc).__name__}: {exc}")) from exc
        if self._api_key:  # an error that quotes the key back must not carry it into a reason or a log
            content = content.replace(self._api_key.encode(), b"[api key]")
        payload = _json(content)
        if not 200 <= response.status_code < 300:
            raise classify(response.status_code, payload)
        data = payload.get("data") if isinstance(payload, dict) else None
        message_id = data.get("id") if isinstance(data, dict) else None
        if isinstance(message_id, str) and message_id.strip():
            return Sent(carrier_ids=(carrier_key(message_id),), status="sending")
        return Sent()  # taken, but with no id no status event can find it: it stays "sent"

    async def fetch_media(self, ref: str, write: MediaWriter, *, max_bytes: int) -> str:
        """GET a ``media[].url`` of an inbound MMS (pre-signed: no credentials), streamed to ``write``."""
        if self._client is None:
            raise RuntimeError(f"telnyx channel {self.name!r} is not started")
        if not ref.lower().startswith(("https://", "http://")):
            raise MediaUnavailable("the attachment reference is not an http(s) URL", retryable=False)
        async with (
            download_errors("the media host", timeout=self._media_timeout),
            self._client.stream("GET", ref, follow_redirects=True, timeout=self._timeout) as response,
        ):
            check_status(response.status_code, "the media host")
            too_big = f"the attachment is larger than {max_bytes:,} bytes"
            await copy_limited(response, write, max_bytes=max_bytes, too_big=too_big)
            return response.headers.get("content-type") or "application/octet-stream"

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "[api key]") if self._api_key else text


def _json(content: bytes) -> object:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None


def _first_error(payload: object) -> Mapping[str, Any]:
    errors = payload.get("errors") if isinstance(payload, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    return first if isinstance(first, dict) else {}


def _word(value: object, limit: int) -> str:
    """A short printable token from the wire (a code, a status): what a ``String(16)`` column can hold."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**limit:
        value = str(value)  # a code sent as a number (str() of a huge int would raise: not past ``limit`` digits)
    if not isinstance(value, str):
        return ""
    return "".join(c for c in value if c.isascii() and c.isprintable())[:limit]


def classify(status_code: int, payload: object) -> DeliveryError:
    """What a failed ``POST /v2/messages`` means: the `DeliveryError` to raise. Pure.

    An authentication failure is retried (`Unreachable`): nothing is lost while the admin fixes the key.
    """
    error = _first_error(payload)
    code = _word(error.get("code"), 16)
    said = " ".join(str(error.get(k) or "") for k in ("title", "detail") if isinstance(error.get(k), str))
    said = " ".join(said.split())[:300]
    what = f"Telnyx {code or 'error'}" + (f": {said}" if said else "") + f" (HTTP {status_code})"
    if status_code == 429:
        return Throttled(what)
    if status_code == 408:
        return TimedOut(what)
    if status_code >= 500:
        return Unreachable(what)
    if status_code == 401 or (status_code == 403 and (not code or code in _AUTH_CODES)):
        return Unreachable(f"{what}; check the transport's api_key")
    return Rejected(what, code=code or str(status_code))


def carrier_key(raw: str) -> str:
    """Telnyx's message id as stored (a UUID); one that cannot be a key is kept as ``sha256:<hex>`` of it, the same
    way on send and in events, so that they still match."""
    value = raw.strip()
    if 0 < len(value) <= MAX_ID_LENGTH and value.isascii() and value.isprintable():
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def verify_signature(
    public_key_b64: str,
    timestamp: str | None,
    body: bytes,
    signature_b64: str | None,
    now: datetime,
    *,
    tolerance: timedelta = timedelta(minutes=5),
) -> bool:
    """Whether Telnyx signed ``body`` at ``timestamp`` (the two headers) with the key whose public half is given."""
    if not timestamp or not signature_b64 or not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) < 20):
        return False
    if abs(now.timestamp() - int(timestamp)) > tolerance.total_seconds():
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        signature = base64.b64decode(signature_b64.strip(), validate=True)
        key.verify(signature, timestamp.encode() + b"|" + body)
    except (InvalidSignature, binascii.Error, ValueError):  # ValueError: a key that is not 32 bytes, non-ASCII
        return False
    return True


def _dict(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise TelnyxEventError(field, "must be a JSON object")
    return value


def _string(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TelnyxEventError(field, "must be a non-empty string")
    return value


def _first_to(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    to = payload.get("to")
    if not isinstance(to, list) or not to:
        raise TelnyxEventError("data.payload.to", "must be a list of recipients")
    return _dict(to[0], "data.payload.to[0]")


def _number(value: object, field: str, default_region: str) -> str:
    try:
        return parse_e164(_string(value, field), default_region)
    except InvalidNumber as exc:
        raise TelnyxEventError(field, exc.reason) from exc


def _instant(value: object) -> datetime | None:
    """An ISO 8601 time from the wire in UTC, or None when absent or unusable (the message matters more)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        utc = parsed.astimezone(UTC) if parsed.utcoffset() is not None else None
    except (ValueError, OverflowError):
        return None
    return utc if utc is not None and 1900 <= utc.year < 9000 else None


def _media(payload: Mapping[str, Any]) -> tuple[str, ...]:
    items = payload.get("media") or []
    if not isinstance(items, list) or len(items) > MAX_MEDIA:
        raise TelnyxEventError("data.payload.media", f"must be a list of at most {MAX_MEDIA} attachments")
    urls = []
    for i, item in enumerate(items):
        field = f"data.payload.media[{i}].url"
        url = _string(_dict(item, f"data.payload.media[{i}]").get("url"), field).strip()
        if len(url) > MAX_URL_LENGTH or not url.isascii() or not url.isprintable() or " " in url:
            raise TelnyxEventError(field, f"must be a URL of at most {MAX_URL_LENGTH} characters")
        if not url.lower().startswith(("https://", "http://")):
            raise TelnyxEventError(field, "must be an http(s) URL")
        urls.append(url)
    return tuple(urls)


def parse_event(payload: object, *, default_region: str) -> Receipt | Inbound | None:
    """What a Telnyx messaging webhook (decoded JSON) says: an inbound message, a status, or None for other events.

    Raises `TelnyxEventError` naming the field at fault. Pure.
    """
    data = _dict(_dict(payload, "body").get("data"), "data")
    event_type = _string(data.get("event_type"), "data.event_type")
    if event_type != "message.received" and event_type not in _STATUS_EVENTS:
        return None
    body = _dict(data.get("payload"), "data.payload")
    carrier_id = carrier_key(_string(body.get("id"), "data.payload.id"))
    first = _first_to(body)
    if event_type == "message.received":
        sender_field = _dict(body.get("from"), "data.payload.from").get("phone_number")
        sender = _number(sender_field, "data.payload.from.phone_number", default_region)
        to = _number(first.get("phone_number"), "data.payload.to[0].phone_number", default_region)
        text = body.get("text")
        if text is not None and not isinstance(text, str):
            raise TelnyxEventError("data.payload.text", "must be a string")
        media = _media(body)
        kind = body.get("type")
        mms = bool(media) or (isinstance(kind, str) and kind.upper() == "MMS")
        channel: Literal["sms", "mms"] = "mms" if mms else "sms"
        received_at = _instant(body.get("received_at")) or _instant(data.get("occurred_at"))
        return Inbound(sender, to, text or "", carrier_id=carrier_id, received_at=received_at, media=media,
                       channel=channel)  # fmt: skip
    raw = _string(first.get("status"), "data.payload.to[0].status")
    errors = body.get("errors")
    if errors is not None and not isinstance(errors, list):
        raise TelnyxEventError("data.payload.errors", "must be a list")
    err = _word(_first_error({"errors": errors}).get("code"), 16)
    done_at = _instant(data.get("occurred_at")) or _instant(body.get("completed_at"))
    return Receipt(carrier_id, _STATES.get(raw, "unknown"), _word(raw, 16), err, done_at)
