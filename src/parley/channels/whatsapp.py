"""The WhatsApp channel: Meta's WhatsApp Cloud API (Graph API) for sending, templates and inbound media.

What this module relies on (Meta's "Send messages", "Mark messages as read", "Media", "Message templates" and
"Graph API error codes" pages; the wire-formats notes). The webhook side lives in `whatsapp_webhook`.

- **Send**: ``POST {api_base}/{phone_number_id}/messages`` with ``Authorization: Bearer <access token>`` and JSON
  ``messaging_product: "whatsapp"``, ``recipient_type: "individual"``, ``to`` (the number's digits, no +; for a
  customer without a number, ``recipient`` with the business-scoped user id instead), then
  ``type: text`` (``text.body`` ≤ 4096), a media type (``image|audio|video|document`` with a ``link`` Meta fetches;
  ``caption`` ≤ 1024 except audio; ``filename`` for documents) or ``template``. The answer is
  ``{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid…"}]}``: accepted, not yet sent,
  so the message becomes "sending" and status webhooks say the rest.
- **Mark as read**: the same endpoint with ``{"messaging_product", "status": "read", "message_id"}``.
- **Templates**: ``GET {waba_id}/message_templates`` (paged with ``paging.next``), ``POST`` to create one.
- **Media**: ``GET {api_base}/{media_id}`` → ``{url, mime_type, sha256, file_size, id}``; then ``GET url`` with the same
  Bearer header, at once (the URL is short-lived).
- **Errors**: ``{"error": {"message", "type", "code", "error_subcode", "error_data": {"details"}, "fbtrace_id"}}``.
- **24-hour window**: free-form messages only within 24 h of the customer's last message; outside it 131047, and
  only a template goes.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from parley.channels.base import MediaRef, MediaUnavailable, MediaWriter, Outgoing, Sent
from parley.channels.media_download import check_status, copy_limited, download_errors
from parley.channels.whatsapp_webhook import carrier_key
from parley.core.delivery import DeliveryError, Rejected, Throttled, TimedOut, Unreachable
from parley.core.whatsapp_rules import MAX_CAPTION, MAX_TEXT, media_kind

THROTTLE_CODES = frozenset({"4", "80007", "130429", "131048", "131056", "133016"})
RETRY_CODES = frozenset({"131053"})  # media upload error: Meta could not fetch the link this time
TOKEN_CODES = frozenset({"190"})  # access token expired, revoked or wrong
TOKEN_STATE = "access token expired or wrong"
MAX_TEMPLATE_PAGES = 50
TEMPLATE_FIELDS = "id,name,language,category,status,rejected_reason,components"  # rejected_reason only if asked
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


class WindowClosed(Rejected):
    """131047: more than 24 hours since the customer last wrote; only a template can go now (the API answers 409)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, code="131047")


class TokenRejected(Unreachable):
    """190 or HTTP 401: the access token expired, was revoked or is wrong. Retried (messages wait) while the admin
    renews it; the transport's state says so in the console meanwhile (`WhatsAppChannel.state`)."""


class NotOnWhatsApp(Rejected):
    """131026: the recipient cannot get WhatsApp messages (not on WhatsApp, old app, terms not accepted): try SMS."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, code="131026")


@dataclass(frozen=True)
class Template:
    """An approved message template to send: body variables in order, an optional header image/video/document."""

    name: str
    language: str
    variables: tuple[str, ...] = ()
    header_media: MediaRef | None = None


def _code(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**16:
        return str(value)
    if isinstance(value, str):
        return "".join(c for c in value if c.isascii() and c.isalnum())[:16]
    return ""


def classify(status_code: int, payload: object) -> DeliveryError:
    """What a failed Graph API call means: the `DeliveryError` to raise. Pure.

    An access token problem is retried (`Unreachable`): messages wait while the admin renews the token.
    """
    error = payload.get("error") if isinstance(payload, dict) else None
    error = error if isinstance(error, dict) else {}
    code = _code(error.get("code"))
    details = error.get("error_data", {}).get("details") if isinstance(error.get("error_data"), dict) else None
    said = " ".join(str(v) for v in (error.get("title"), error.get("message"), details) if isinstance(v, str))
    said = " ".join("".join(c if c.isprintable() else " " for c in said).split())[:300]
    what = f"WhatsApp {code or 'error'}" + (f": {said}" if said else "") + f" (HTTP {status_code})"
    if status_code == 429 or code in THROTTLE_CODES:
        return Throttled(what)
    if code in TOKEN_CODES or status_code == 401:
        return TokenRejected(f"{what}; the access token expired or is wrong: renew it in the transport")
    if status_code >= 500 or code in RETRY_CODES:
        return Unreachable(what)
    if code == "131047":
        return WindowClosed(what)
    if code == "131026":
        return NotOnWhatsApp(what)
    return Rejected(what, code=code or str(status_code))


def address(to: str) -> dict[str, str]:
    """Who a message goes to, as WhatsApp wants it: ``to`` with the digits of an E.164 number, or ``recipient``
    with a business-scoped user id for a customer who has no phone number."""
    digits = to.removeprefix("+")
    if to.startswith("+"):
        if not (digits.isascii() and digits.isdigit() and 6 <= len(digits) <= 15):
            raise Rejected("the recipient is not a phone number WhatsApp can address", code="recipient")
        return {"to": digits}
    if not to or len(to) > 100 or not to.isascii() or not to.isprintable() or " " in to:
        raise Rejected("the recipient is neither a phone number nor a WhatsApp user id", code="recipient")
    return {"recipient": to}


def count_variables(component: Mapping[str, Any]) -> int:
    """How many ``{{n}}`` (or named ``{{name}}``) placeholders a template component's text has, each counted once."""
    text = component.get("text")
    return len(set(_PLACEHOLDER.findall(text))) if isinstance(text, str) else 0


class WhatsAppChannel:
    """One WhatsApp business number (``phone_number_id``) of one WhatsApp Business Account (``waba_id``)."""

    kind: ClassVar[str] = "whatsapp"
    carries_mms: ClassVar[bool] = False
    carries_whatsapp_media: ClassVar[bool] = True

    def __init__(
        self,
        name: str,
        *,
        phone_number_id: str,
        waba_id: str,
        access_token: str,
        api_base: str = "https://graph.facebook.com/v21.0",
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
        media_timeout: float = 120.0,
    ) -> None:
        self.name = name
        self.phone_number_id = phone_number_id
        self.waba_id = waba_id
        self._token = access_token
        self._base = api_base.rstrip("/")
        self._transport = transport
        self._timeout = timeout
        self._media_timeout = media_timeout
        self._client: httpx.AsyncClient | None = None
        # What the admin console shows (as an SMPP bind's state): "ready", or TOKEN_STATE since Meta last refused
        # the access token (until a call succeeds), with Meta's reason in ``last_error``.
        self.state = "ready"
        self.last_error: str | None = None

    def describe(self) -> str:
        """A line for logs (never the access token)."""
        return f'whatsapp channel "{self.name}": {self._base}/{self.phone_number_id}'

    async def start(self) -> None:
        if self._client is None:
            # No default Authorization: the token goes on each Graph request, and httpx drops it on a redirect
            # to another host, so it never reaches a host that is not Meta's.
            self._client = httpx.AsyncClient(transport=self._transport, headers={"User-Agent": "parley"})

    async def stop(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    # --- building requests ---------------------------------------------------------------------------------------

    def request_body(self, msg: Outgoing) -> dict[str, Any]:
        """The JSON of ``POST /{phone_number_id}/messages`` for one text or one attachment (with its caption)."""
        body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", **address(msg.to)}
        if len(msg.media) > 1:
            raise Rejected("a WhatsApp message carries one attachment; send each separately", code="media")
        if not msg.media:
            if not msg.text or len(msg.text) > MAX_TEXT:
                raise Rejected(f"a WhatsApp text must have 1 to {MAX_TEXT} characters", code="text")
            return body | {"type": "text", "text": {"body": msg.text, "preview_url": False}}
        ref = msg.media[0]
        kind = media_kind(ref.content_type)
        item: dict[str, Any] = {"link": ref.url}
        if msg.text and kind == "audio":
            raise Rejected("a WhatsApp audio message cannot have a caption", code="caption")
        if msg.text:
            if len(msg.text) > MAX_CAPTION:
                raise Rejected(f"a WhatsApp caption has at most {MAX_CAPTION} characters", code="caption")
            item["caption"] = msg.text
        if kind == "document" and ref.filename:
            item["filename"] = ref.filename
        return body | {"type": kind, kind: item}

    def template_body(self, to: str, template: Template) -> dict[str, Any]:
        components: list[dict[str, Any]] = []
        if template.header_media is not None:
            kind = media_kind(template.header_media.content_type)
            kind = "document" if kind == "audio" else kind  # a header is an image, a video or a document
            media: dict[str, Any] = {"link": template.header_media.url}
            if kind == "document" and template.header_media.filename:
                media["filename"] = template.header_media.filename
            components.append({"type": "header", "parameters": [{"type": kind, kind: media}]})
        if template.variables:
            parameters = [{"type": "text", "text": v} for v in template.variables]
            components.append({"type": "body", "parameters": parameters})
        spec: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
        if components:
            spec["components"] = components
        return {"messaging_product": "whatsapp", "recipient_type": "individual", **address(to),
                "type": "template", "template": spec}  # fmt: skip

    # --- the API -------------------------------------------------------------------------------------------------

    async def send(self, msg: Outgoing) -> Sent:
        body = self.request_body(msg)
        if msg.before_submit is not None:
            await msg.before_submit()
        return self._sent(await self._call("POST", f"{self.phone_number_id}/messages", body))

    async def send_template(self, to: str, template: Template, *, message_id: str) -> Sent:
        """Send an approved template (the only kind of message allowed outside the 24-hour window)."""
        del message_id  # Meta has no idempotency key; the id is for the caller's logs and journal
        return self._sent(
            await self._call("POST", f"{self.phone_number_id}/messages", self.template_body(to, template))
        )

    async def mark_read(self, wamid: str) -> None:
        """Tell the customer their message was read (the blue ticks)."""
        body = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
        await self._call("POST", f"{self.phone_number_id}/messages", body)

    async def list_templates(self) -> list[dict[str, Any]]:
        """The account's templates, normalised: name, language, category, status (lower case), components (each
        with ``variables``: how many placeholders it has), Meta's ``id`` and ``reason`` (its ``rejected_reason``)."""
        found: list[dict[str, Any]] = []
        url: str | None = f"{self._base}/{self.waba_id}/message_templates?limit=100&fields={TEMPLATE_FIELDS}"
        for _ in range(MAX_TEMPLATE_PAGES):
            if url is None:
                break
            page = await self._call("GET", url)
            data = page.get("data") if isinstance(page, dict) else None
            found += [_template(t) for t in data if isinstance(t, dict)] if isinstance(data, list) else []
            paging = page.get("paging") if isinstance(page, dict) else None
            following = paging.get("next") if isinstance(paging, dict) else None
            url = following if isinstance(following, str) and following.startswith(self._base + "/") else None
        return found

    async def create_template(
        self, name: str, language: str, category: str, components: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Submit a template for Meta's review; the answer is ``{"id", "status", "category"}``."""
        body = {"name": name, "language": language, "category": category.upper(), "components": list(components)}
        answer = await self._call("POST", f"{self.waba_id}/message_templates", body)
        return answer if isinstance(answer, dict) else {}

    def _sent(self, payload: object) -> Sent:
        messages = payload.get("messages") if isinstance(payload, dict) else None
        first = messages[0] if isinstance(messages, list) and messages and isinstance(messages[0], dict) else {}
        wamid = first.get("id")
        if isinstance(wamid, str) and wamid.strip():
            return Sent(carrier_ids=(carrier_key(wamid),), status="sending")
        return Sent()  # taken, but with no id no status can find it: it stays "sent"

    async def _call(self, method: str, path: str, body: object = None) -> Any:
        if self._client is None:
            raise RuntimeError(f"whatsapp channel {self.name!r} is not started")
        url = path if path.startswith(self._base + "/") else f"{self._base}/{path}"
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client.request(
                    method, url, json=body, headers=self._auth(), timeout=self._timeout, follow_redirects=False
                )
                content = response.content
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise TimedOut(f"no answer from WhatsApp within {self._timeout:g}s") from exc
        except httpx.RequestError as exc:
            raise Unreachable(self._scrub(f"WhatsApp could not be reached: {type(exc).__name__}: {exc}")) from exc
        payload = _json(self._scrub_bytes(content))
        if not 200 <= response.status_code < 300:
            error = classify(response.status_code, payload)
            if isinstance(error, TokenRejected):
                self.state, self.last_error = TOKEN_STATE, error.reason
            raise error
        self.state, self.last_error = "ready", None
        return payload

    # --- media ---------------------------------------------------------------------------------------------------

    async def fetch_media(self, ref: str, write: MediaWriter, *, max_bytes: int) -> str:
        """Download an inbound attachment by its Meta media id, streamed to ``write``; returns its type."""
        if self._client is None:
            raise RuntimeError(f"whatsapp channel {self.name!r} is not started")
        if not ref or not ref.isascii() or not ref.replace("_", "").replace("-", "").isalnum() or len(ref) > 100:
            raise MediaUnavailable("the attachment reference is not a WhatsApp media id", retryable=False)
        async with download_errors("WhatsApp's media host", timeout=self._media_timeout):
            return await self._download(self._client, ref, write, max_bytes)

    async def _download(self, client: httpx.AsyncClient, media_id: str, write: MediaWriter, max_bytes: int) -> str:
        too_big = f"the attachment is larger than {max_bytes:,} bytes"
        info = await client.get(f"{self._base}/{media_id}", headers=self._auth(), timeout=self._timeout)
        check_status(info.status_code, "WhatsApp's media lookup")
        meta = _json(self._scrub_bytes(info.content))
        meta = meta if isinstance(meta, dict) else {}
        url, mime, size = meta.get("url"), meta.get("mime_type"), meta.get("file_size")
        if not isinstance(url, str) or not url.lower().startswith(("https://", "http://")):
            raise MediaUnavailable("WhatsApp's media lookup gave no download URL", retryable=True)
        if isinstance(size, int | str) and str(size).isdigit() and int(str(size)[:19]) > max_bytes:
            raise MediaUnavailable(too_big, retryable=False)
        # httpx drops Authorization when a redirect leaves the host, so the token stays with Meta.
        async with client.stream("GET", url, headers=self._auth(), follow_redirects=True,
                                 timeout=self._timeout) as response:  # fmt: skip
            check_status(response.status_code, "WhatsApp's media host")
            await copy_limited(response, write, max_bytes=max_bytes, too_big=too_big)
            kind = mime if isinstance(mime, str) and mime.strip() else response.headers.get("content-type")
            return kind or "application/octet-stream"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "[access token]") if self._token else text

    def _scrub_bytes(self, content: bytes) -> bytes:
        # An error that quotes the token back must not carry it into a reason or a log.
        return content.replace(self._token.encode(), b"[access token]") if self._token else content


def _json(content: bytes) -> object:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None


def _template(raw: Mapping[str, Any]) -> dict[str, Any]:
    components = raw.get("components")
    components = components if isinstance(components, list) else []
    return {
        "name": raw.get("name") if isinstance(raw.get("name"), str) else "",
        "language": raw.get("language") if isinstance(raw.get("language"), str) else "",
        "category": str(raw.get("category") or "").lower(),
        "status": str(raw.get("status") or "").lower(),
        "components": [dict(c) | {"variables": count_variables(c)} for c in components if isinstance(c, dict)],
        "id": str(raw["id"]) if isinstance(raw.get("id"), str | int) else None,
        "reason": raw.get("rejected_reason") if isinstance(raw.get("rejected_reason"), str) else None,
    }
