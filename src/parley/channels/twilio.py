"""The Twilio channel: SMS and MMS through Twilio's Messages REST resource (API version 2010-04-01).

Send: ``POST {api_base}/2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP Basic ``AccountSid:AuthToken`` and
the form fields ``To``, ``From``, ``Body``, ``MediaUrl`` (repeated, at most 10) and ``StatusCallback``. Twilio answers
201 with the message (``sid`` SM… or MM…, status ``queued``): the message is on its way, not yet sent, so `Sent` says
"sending" and the status callbacks say the rest. Any other answer is Twilio's error JSON (``code``, ``message``,
``more_info``, ``status``), which `classify` turns into a `DeliveryError`: retried when Twilio or the link is at fault
(429, 5xx, a full queue, and bad credentials, so that messages wait while the admin fixes the token), refused for good
with Twilio's code otherwise (21211 invalid To, 21610 the recipient replied STOP, …).

Inbound attachments (``MediaUrl{N}`` of the inbound webhook) are fetched with `fetch_media`: Twilio answers them with a
redirect to its CDN; the Basic credentials go to the API's own origin only, never to the host a redirect names.

Status callbacks: `parse_status` (pure) reads the form Twilio POSTs to our ``StatusCallback``. Verifying its signature
and storing the receipt are the webhook's job (`parley.ingress.webhooks`). Facts: docs/wire-formats (Twilio).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import urlsplit

import httpx

from parley.channels.base import MediaUnavailable, MediaWriter, Outgoing, Receipt, ReceiptState, Sent
from parley.channels.media_download import check_status, copy_limited, download_errors

# A channel reads the ingress' parse error so that both webhooks answer a malformed callback the same way (a 4xx
# naming the field); webhook_formats imports nothing from channels, so there is no cycle.
from parley.channels.webhook_formats import WebhookError, storable_id
from parley.core.delivery import DeliveryError, Rejected, Throttled, TimedOut, Unreachable

API_VERSION = "2010-04-01"
MAX_MEDIA = 10  # MediaUrl values per message (Twilio's limit)
MAX_MMS_BYTES = 5 * 1024 * 1024  # Twilio's limit for all the media of one message
MAX_REDIRECTS = 5  # a media URL redirects once, to the CDN
# Twilio error codes that say "later": too many requests, queue overflow, sender's queue over 10 h, rate limits
# (Twilio's own failures come as 5xx). Everything else in a 4xx is about this message and is final.
RETRYABLE_CODES = frozenset({20429, 30001, 21611, 14107, 63018})
CREDENTIAL_CODES = frozenset({20003})  # "Authenticate": wrong AccountSid/AuthToken pair
STATES: dict[str, ReceiptState] = {
    "queued": "sending",
    "accepted": "sending",
    "sending": "sending",
    "scheduled": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",  # WhatsApp through Twilio: read implies delivered
    "undelivered": "undelivered",
    "failed": "failed",
}


class TwilioChannel:
    """Sends SMS and MMS through one Twilio account; fetches that account's inbound media."""

    kind: ClassVar[str] = "twilio"
    carries_mms: ClassVar[bool] = True

    def __init__(
        self,
        name: str,
        account_sid: str,
        auth_token: str,
        *,
        api_base: str = "https://api.twilio.com",
        status_callback: str | None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
        media_timeout: float = 120.0,
    ) -> None:
        self.name = name
        self.account_sid = account_sid
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        self._token = auth_token
        self.api_base = api_base.rstrip("/")
        self.status_callback = status_callback
        self._messages_url = f"{self.api_base}/{API_VERSION}/Accounts/{account_sid}/Messages.json"
        self._transport = transport
        self._timeout = timeout
        self._media_timeout = media_timeout
        self._client: httpx.AsyncClient | None = None

    def describe(self) -> str:
        """A line for logs: no auth token."""
        return f'twilio channel "{self.name}": account {self.account_sid} at {self.api_base}'

    def __repr__(self) -> str:
        return f"<TwilioChannel {self.name!r} {self.account_sid} {self.api_base}>"

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport, headers={"User-Agent": "parley"}, max_redirects=MAX_REDIRECTS
            )

    async def stop(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def _started(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError(f"twilio channel {self.name!r} is not started")
        return self._client

    async def send(self, msg: Outgoing) -> Sent:
        client = self._started()
        form = self._form(msg)
        if msg.before_submit is not None:
            await msg.before_submit()
        host = urlsplit(self.api_base).netloc
        try:
            # httpx's timeouts are per phase (a slow trickle never trips them): bound the whole exchange.
            async with asyncio.timeout(self._timeout):
                response = await client.post(self._messages_url, data=form, auth=self._auth, timeout=self._timeout)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise TimedOut(f"no answer from Twilio ({host}) within {self._timeout:g}s") from exc
        except httpx.RequestError as exc:
            raise Unreachable(
                f"Twilio ({host}) cannot be reached: {type(exc).__name__}: {self._scrub(str(exc))}"
            ) from exc
        text = self._scrub(response.text)  # an echo of our own request must not carry the token into a reason
        try:
            payload: object = response.json() if text else None
        except ValueError:
            payload = " ".join(text.split())[:200] or response.reason_phrase
        if 200 <= response.status_code < 300:
            sid = payload.get("sid") if isinstance(payload, dict) else None
            # Twilio took it: even without a readable sid, sending again would send a second copy.
            return Sent(carrier_ids=(sid,) if isinstance(sid, str) and sid else (), status="sending")
        if isinstance(payload, dict) and isinstance(payload.get("message"), str):
            payload = {**payload, "message": self._scrub(payload["message"])}
        raise classify(response.status_code, payload)

    def _form(self, msg: Outgoing) -> dict[str, str | list[str]]:
        if len(msg.media) > MAX_MEDIA:
            raise Rejected(f"Twilio takes at most {MAX_MEDIA} media files per message ({len(msg.media)} given)")
        total = sum(m.size for m in msg.media)
        if total > MAX_MMS_BYTES:
            raise Rejected(f"Twilio takes at most {MAX_MMS_BYTES:,} bytes of media per message ({total:,} given)")
        form: dict[str, str | list[str]] = {"To": msg.to, "From": msg.sender}
        if msg.text or not msg.media:
            form["Body"] = msg.text
        if msg.media:
            form["MediaUrl"] = [m.url for m in msg.media]
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        return form

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _authenticates(self, url: str) -> bool:
        """Whether ``url`` may receive our credentials: the API's own origin, or Twilio's over HTTPS."""
        given, ours = urlsplit(url), urlsplit(self.api_base)
        if (given.scheme, given.hostname, given.port) == (ours.scheme, ours.hostname, ours.port):
            return True
        host = given.hostname or ""
        return given.scheme == "https" and given.port is None and (host == "twilio.com" or host.endswith(".twilio.com"))

    async def fetch_media(self, ref: str, write: MediaWriter, *, max_bytes: int) -> str:
        """Stream an inbound ``MediaUrl{N}`` to ``write``; see `parley.channels.base.MediaSource`.

        Redirects are followed; httpx drops the ``Authorization`` header on a redirect to another origin (it keeps
        it only for the same origin or an http→https upgrade of it), so the CDN never sees the token.
        """
        client = self._started()
        parts = urlsplit(ref)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MediaUnavailable(f"the media reference is not an http(s) URL: {_where(ref)}", retryable=False)
        auth = self._auth if self._authenticates(ref) else None
        async with (
            download_errors(f"the media at {_where(ref)}", timeout=self._media_timeout),
            client.stream("GET", ref, auth=auth, follow_redirects=True, timeout=self._timeout) as response,
        ):
            _check_media_answer(response, max_bytes)
            too_big = f"the media at {_where(ref)} is larger than {max_bytes:,} bytes"
            await copy_limited(response, write, max_bytes=max_bytes, too_big=too_big)
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            return content_type or "application/octet-stream"


def _where(url: str) -> str:
    """A URL for a reason: no credentials, no query (a CDN's signed query is a credential too)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


def _check_media_answer(response: httpx.Response, max_bytes: int) -> None:
    status, where = response.status_code, _where(str(response.url))
    if status == 200:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            reason = f"the media at {where} has {int(declared):,} bytes, over {max_bytes:,}"
            raise MediaUnavailable(reason, retryable=False)
        return
    if status == 401:  # our credentials: retried while the admin fixes the transport's auth_token
        reason = f"HTTP 401 for the media at {where}: check the transport's auth_token"
        raise MediaUnavailable(reason, retryable=True)
    check_status(status, f"the media at {where}")


def _twilio_error(payload: object) -> tuple[int | None, str]:
    """Twilio's error ``code`` and ``message`` from an answer (decoded JSON, or an excerpt of a non-JSON body)."""
    if isinstance(payload, str):
        return None, payload
    if not isinstance(payload, dict):
        return None, ""
    raw, message = payload.get("code"), payload.get("message")
    code = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        code = int(raw.strip())
    if code is not None and not 0 < code < 1_000_000:  # Twilio's codes have five digits; anything else is noise
        code = None
    return code, " ".join(message.split())[:200] if isinstance(message, str) else ""


def classify(status_code: int, payload: object) -> DeliveryError:
    """What a Twilio answer other than 2xx means for the message. Pure.

    ``payload`` is the decoded JSON of the answer, or an excerpt of its body when it is not JSON.
    """
    code, message = _twilio_error(payload)
    said = f"Twilio error {code}: {message}" if code is not None else f"Twilio answered HTTP {status_code}: {message}"
    said = said.rstrip(": ")
    if status_code == 429 or code == 20429:
        return Throttled(said)
    if status_code == 401 or code in CREDENTIAL_CODES:
        return Unreachable(f"{said} (Twilio refused the credentials: check the transport's account_sid and auth_token)")
    if code in RETRYABLE_CODES:
        return Throttled(said)
    if status_code >= 500:
        return Unreachable(said)
    if status_code < 400 or (status_code == 404 and code in (None, 20404)):
        # Not an answer about the message: the Messages URL itself is wrong (a proxy, a wrong account).
        return Unreachable(f"{said} (check the transport's api_base and account_sid)")
    return Rejected(said, code=str(code) if code is not None else None)


# -- status callbacks --------------------------------------------------------------------------------------------------


def _field(raw: str, limit: int = 16) -> str:
    """A value as stored in a receipt's short columns: printable characters only, cut to ``limit``."""
    return "".join(ch for ch in raw.strip() if ch.isprintable())[:limit]


def _done_at(raw: str) -> datetime | None:
    """``RawDlrDoneDate`` (YYMMDDHHMM, the carrier's DLR done date, read as UTC), or None when absent or invalid."""
    raw = raw.strip()
    if len(raw) != 10 or not (raw.isascii() and raw.isdigit()):
        return None
    try:
        return datetime(2000 + int(raw[:2]), int(raw[2:4]), int(raw[4:6]), int(raw[6:8]), int(raw[8:]), tzinfo=UTC)
    except ValueError:
        return None


def parse_status(params: Mapping[str, str]) -> Receipt:
    """The receipt in a Twilio status callback. Pure; raises `WebhookError` naming a missing ``MessageSid``."""
    sid = (params.get("MessageSid") or params.get("SmsSid") or "").strip()
    if not sid:
        raise WebhookError("MessageSid", "is required")
    raw = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip()
    state = STATES.get(raw.lower(), "unknown")
    return Receipt(
        storable_id(sid),
        state,
        _field(raw),
        _field(params.get("ErrorCode") or ""),
        _done_at(params.get("RawDlrDoneDate") or ""),
    )
