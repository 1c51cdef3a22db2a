"""A local "Meta Graph API" for WhatsApp Cloud API tests, over real HTTP on 127.0.0.1.

It speaks the API as `parley.channels.whatsapp` documents it, checks every request field by field, answers as Meta
does, serves inbound media behind short-lived Bearer-protected URLs, pages its templates, and signs webhooks with an
App Secret exactly as Meta does (``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``)::

    async with FakeMeta(access_token="EAAG-test", app_secret="s3cret") as meta:
        # channel: WhatsAppChannel("wa", phone_number_id=meta.phone_number_id, waba_id=meta.waba_id,
        #                          access_token=meta.access_token, api_base=meta.api_base)
        [sent] = meta.messages            # accepted sends (their JSON); `problems` lists what it refused
        meta.reads                        # wamids marked as read (meta.fail_next_read(...) fails the next one)
        meta.fail_next(400, 131047, "Re-engagement message")       # the next send answers Meta's error JSON
        media_id = meta.add_media(b"...", "image/jpeg")            # GET /{media_id} → {url, mime_type, ...}
        meta.add_template("hello", "en_US", "UTILITY", "APPROVED", "Hi {{1}}")
        meta.created / meta.set_status("new_one", "APPROVED")  # templates submitted (listed as PENDING); review them
        meta.fail_templates(500, 2, "Service temporarily unavailable")   # the next listing or creation fails
        await meta.fetch_link(url)        # GETs a `link` it was given, as Meta does before sending the media
        body = meta.inbound(sender="15557654321", text="Hi")       # a webhook body; also status(wamid, "read")
        await meta.post(url, body)        # signed POST;  await meta.handshake(url, verify_token) GETs the check
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.support.http_sink import HttpSink, RecordedRequest, SinkResponse

MEDIA_TYPES = {"image", "audio", "video", "document", "sticker"}
SEND_FIELDS = {"messaging_product", "recipient_type", "to", "recipient", "type", "text", "template", "context",
               "biz_opaque_callback_data", *MEDIA_TYPES}  # fmt: skip


@dataclass
class _Failure:
    status: int
    code: int
    message: str


@dataclass
class FakeMeta:
    access_token: str = "EAAG-fake-meta-token"
    app_secret: str = "fake-app-secret"
    phone_number_id: str = "106540352242922"
    display_number: str = "+1 555 123 0001"
    waba_id: str = "102290129340398"
    page_size: int = 2
    client: httpx.AsyncClient | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    templates: list[dict[str, Any]] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    declared_size: dict[str, int] = field(default_factory=dict)  # media id → a file_size to claim instead
    redirects: dict[str, str] = field(default_factory=dict)  # media id → where its download URL redirects
    _failures: list[_Failure] = field(default_factory=list)
    _template_failures: list[_Failure] = field(default_factory=list)
    _read_failures: list[_Failure] = field(default_factory=list)
    _urls: dict[str, str] = field(default_factory=dict)  # download token → media id

    def __post_init__(self) -> None:
        self._sink = HttpSink(respond=self._respond)

    @property
    def api_base(self) -> str:
        return self._sink.url + "/v21.0"

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._sink.requests

    async def __aenter__(self) -> FakeMeta:
        await self._sink.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._sink.__aexit__(exc_type, exc, tb)

    def fail_next(self, status: int, code: int, message: str) -> None:
        """The next well-formed send is answered with Meta's error JSON instead."""
        self._failures.append(_Failure(status, code, message))

    def fail_next_read(self, status: int, code: int, message: str) -> None:
        """The next well-formed mark-as-read is answered with Meta's error JSON instead (and not recorded)."""
        self._read_failures.append(_Failure(status, code, message))

    def add_media(self, body: bytes, mime_type: str) -> str:
        media_id = str(secrets.randbelow(10**15) + 10**15)
        self.media[media_id] = (body, mime_type)
        return media_id

    def add_template(
        self, name: str, language: str, category: str, status: str, body: str,
        extra: list[dict[str, Any]] | None = None, reason: str = "NONE",
    ) -> None:  # fmt: skip
        """A template as Meta lists it; ``extra`` components (HEADER, FOOTER, BUTTONS) go around the body."""
        extra = extra or []
        header = [c for c in extra if c["type"] == "HEADER"]
        components = [*header, {"type": "BODY", "text": body}, *(c for c in extra if c["type"] != "HEADER")]
        self.templates.append({"name": name, "language": language, "category": category, "status": status,
                               "components": components, "id": str(len(self.templates) + 1),
                               "rejected_reason": reason})  # fmt: skip

    def set_status(self, name: str, status: str, language: str = "en_US", reason: str = "NONE") -> None:
        """Meta's review: the template's status (APPROVED, REJECTED, PAUSED, …) as the next listing shows it."""
        [template] = [t for t in self.templates if (t["name"], t["language"]) == (name, language)]
        template.update(status=status, rejected_reason=reason)

    def fail_templates(self, status: int, code: int, message: str) -> None:
        """The next template listing (or creation) is answered with Meta's error JSON instead."""
        self._template_failures.append(_Failure(status, code, message))

    # --- the API ---------------------------------------------------------------------------------------------------

    def _respond(self, request: RecordedRequest) -> SinkResponse:
        path = request.path.removeprefix("/v21.0")
        if request.method == "GET" and request.path.startswith("/download/"):
            return self._download(request)
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            self.problems.append(f"{request.method} {request.path}: Authorization is not the Bearer access token")
            return _error(401, 190, "Error validating access token: The session has expired.")
        if (request.method, path) == ("POST", f"/{self.phone_number_id}/messages"):
            return self._messages(request)
        if path == f"/{self.waba_id}/message_templates":
            if self._template_failures:
                failure = self._template_failures.pop(0)
                return _error(failure.status, failure.code, failure.message)
            return self._create(request) if request.method == "POST" else self._templates(request)
        if request.method == "GET" and path.lstrip("/") in self.media:
            return self._media_info(path.lstrip("/"))
        return _error(400, 100, f"Unsupported {request.method} request: {path}")

    def _json_body(self, request: RecordedRequest) -> dict[str, Any] | None:
        if not request.headers.get("content-type", "").startswith("application/json"):
            self.problems.append(f"Content-Type {request.headers.get('content-type')!r} is not application/json")
            return None
        try:
            body = json.loads(request.body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.problems.append("body: not a JSON object")
            return None
        return body

    def _messages(self, request: RecordedRequest) -> SinkResponse:
        body = self._json_body(request)
        if body is None:
            return _error(400, 100, "Invalid parameter")
        if body.get("status") == "read":
            if set(body) != {"messaging_product", "status", "message_id"} or body["messaging_product"] != "whatsapp":
                self.problems.append(f"mark as read: unexpected fields {sorted(body)}")
                return _error(400, 100, "Invalid parameter")
            if self._read_failures:
                failure = self._read_failures.pop(0)
                return _error(failure.status, failure.code, failure.message)
            self.reads.append(body["message_id"])
            return SinkResponse(200, json.dumps({"success": True}))
        problems = _check_send(body)
        if problems:
            self.problems += problems
            return _error(400, 100, "Invalid parameter: " + "; ".join(problems))
        if self._failures:
            failure = self._failures.pop(0)
            return _error(failure.status, failure.code, failure.message)
        wamid = "wamid.HBgL" + secrets.token_urlsafe(24)
        self.messages.append(body | {"id": wamid})
        who = body.get("to") or body.get("recipient")
        answer = {"messaging_product": "whatsapp", "contacts": [{"input": who, "wa_id": who}],
                  "messages": [{"id": wamid}]}  # fmt: skip
        return SinkResponse(200, json.dumps(answer))

    def _templates(self, request: RecordedRequest) -> SinkResponse:
        after = int((request.query_params.get("after") or ["0"])[0])
        page = self.templates[after : after + self.page_size]
        answer: dict[str, Any] = {"data": page, "paging": {"cursors": {"before": str(after), "after": str(after)}}}
        if after + self.page_size < len(self.templates):
            fields = {"fields": request.query_params["fields"][0]} if "fields" in request.query_params else {}
            query = urlencode({"limit": self.page_size, **fields, "after": after + self.page_size})
            answer["paging"]["next"] = f"{self.api_base}/{self.waba_id}/message_templates?{query}"
        return SinkResponse(200, json.dumps(answer))

    def _create(self, request: RecordedRequest) -> SinkResponse:
        body = self._json_body(request)
        problems = _check_template(body) if body is not None else ["template creation: no JSON object"]
        if problems:
            self.problems += problems
            return _error(400, 100, "Invalid parameter: " + "; ".join(problems))
        assert body is not None
        if any((t["name"], t["language"]) == (body["name"], body["language"]) for t in self.templates):
            return _error(400, 100, "Message template already exists")  # Meta: subcode 2388024
        self.created.append(body)
        meta_id = str(900 + len(self.created))
        self.templates.append({"name": body["name"], "language": body["language"], "category": body["category"],
                               "status": "PENDING", "components": body["components"], "id": meta_id,
                               "rejected_reason": "NONE"})  # fmt: skip
        return SinkResponse(200, json.dumps({"id": meta_id, "status": "PENDING", "category": body["category"]}))

    def _media_info(self, media_id: str) -> SinkResponse:
        body, mime = self.media[media_id]
        token = secrets.token_urlsafe(12)
        self._urls[token] = media_id
        url = f"{self._sink.url}/download/{token}?ext={int(time.time()) + 300}"
        size = self.declared_size.get(media_id, len(body))
        info = {"url": url, "mime_type": mime, "sha256": hashlib.sha256(body).hexdigest(), "file_size": size,
                "id": media_id, "messaging_product": "whatsapp"}  # fmt: skip
        return SinkResponse(200, json.dumps(info))

    def _download(self, request: RecordedRequest) -> SinkResponse:
        media_id = self._urls.pop(request.path.removeprefix("/download/"), None)  # short-lived: one use
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            self.problems.append("media download without the Bearer access token")
            return SinkResponse(401, b"", "text/plain")
        if media_id is None:
            return SinkResponse(404, b"", "text/plain")
        if media_id in self.redirects:
            return SinkResponse(302, b"", "text/plain", {"Location": self.redirects[media_id]})
        body, mime = self.media[media_id]
        return SinkResponse(200, body, mime)

    # --- what Meta does on its own ---------------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        return self.client or httpx.AsyncClient()

    async def fetch_link(self, url: str) -> httpx.Response:
        """GET a media ``link`` it was given, as Meta does before delivering the message (no credentials)."""
        client = self._http()
        try:
            return await client.get(url, follow_redirects=True)
        finally:
            if client is not self.client:
                await client.aclose()

    def sign(self, body: bytes) -> dict[str, str]:
        digest = hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}

    def envelope(self, value: dict[str, Any]) -> bytes:
        metadata = {"display_phone_number": self.display_number, "phone_number_id": self.phone_number_id}
        change = {"field": "messages", "value": {"messaging_product": "whatsapp", "metadata": metadata} | value}
        entry = {"id": self.waba_id, "changes": [change]}
        return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()

    def inbound(
        self, *, sender: str = "15557654321", name: str = "Kerry Fisher", kind: str = "text", text: str = "Hello",
        part: dict[str, Any] | None = None, timestamp: int | None = None, wamid: str | None = None,
    ) -> bytes:  # fmt: skip
        """A ``messages`` notification; ``part`` is the type's object (``text`` makes ``{"body": text}``)."""
        message = {"from": sender, "id": wamid or "wamid.HBgL" + secrets.token_urlsafe(24),
                   "timestamp": str(int(time.time()) if timestamp is None else timestamp), "type": kind,
                   kind: part if part is not None else {"body": text}}  # fmt: skip
        contact = {"profile": {"name": name}, "wa_id": sender}
        return self.envelope({"contacts": [contact], "messages": [message]})

    def status(self, wamid: str, status: str, *, to: str = "15557654321", error_code: int | None = None) -> bytes:
        """A ``statuses`` notification: sent, delivered, read or failed."""
        item: dict[str, Any] = {"id": wamid, "recipient_id": to, "status": status, "timestamp": str(int(time.time()))}
        if error_code is not None:
            item["errors"] = [
                {"code": error_code, "title": "Message undeliverable", "message": "Message undeliverable"}
            ]
        return self.envelope({"statuses": [item]})

    async def post(self, url: str, body: bytes) -> httpx.Response:
        client = self._http()
        try:
            return await client.post(url, content=body, headers=self.sign(body))
        finally:
            if client is not self.client:
                await client.aclose()

    async def handshake(self, url: str, verify_token: str, challenge: str = "1158201444") -> httpx.Response:
        params = {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": challenge}
        client = self._http()
        try:
            return await client.get(url, params=params)
        finally:
            if client is not self.client:
                await client.aclose()


def _error(status: int, code: int, message: str) -> SinkResponse:
    error = {"message": message, "type": "OAuthException", "code": code, "error_subcode": 2494010,
             "error_data": {"messaging_product": "whatsapp", "details": message},
             "fbtrace_id": "AbCdEf123"}  # fmt: skip
    return SinkResponse(status, json.dumps({"error": error}))


def _check_send(body: dict[str, Any]) -> list[str]:
    """What is wrong with a send, field by field (empty: nothing)."""
    problems = [f"{name}: not a field of a message" for name in sorted(set(body) - SEND_FIELDS)]
    if body.get("messaging_product") != "whatsapp":
        problems.append("messaging_product: must be whatsapp")
    if body.get("recipient_type", "individual") != "individual":
        problems.append("recipient_type: must be individual")
    to, user = body.get("to"), body.get("recipient")
    if user is not None:  # a business-scoped user id, for a customer without a phone number
        if to is not None or not isinstance(user, str) or not user.strip():
            problems.append("recipient: a user id, instead of to")
    elif not isinstance(to, str) or not to.isdigit() or not 6 <= len(to) <= 15:
        problems.append(f"to: {to!r} is not the digits of a number")
    kind = body.get("type")
    part = body.get(kind) if isinstance(kind, str) else None
    if not isinstance(part, dict):
        return [*problems, f"type: {kind!r} has no object"]
    if kind == "text":
        if not isinstance(part.get("body"), str) or not 1 <= len(part["body"]) <= 4096:
            problems.append("text.body: 1 to 4096 characters")
    elif kind in MEDIA_TYPES:
        if not str(part.get("link", "")).startswith(("http://", "https://")) and "id" not in part:
            problems.append(f"{kind}: needs a link or an id")
        if "caption" in part and (kind in ("audio", "sticker") or len(part["caption"]) > 1024):
            problems.append(f"{kind}.caption: not allowed or over 1024 characters")
        if "filename" in part and kind != "document":
            problems.append(f"{kind}.filename: only for documents")
    elif kind == "template":
        if not isinstance(part.get("name"), str) or not isinstance(part.get("language"), dict):
            problems.append("template: needs name and language.code")
        for component in part.get("components", []):
            if component.get("type") not in ("header", "body", "button"):
                problems.append(f"template.components: {component.get('type')!r}")
    else:
        problems.append(f"type: {kind!r} not supported here")
    return problems


TEMPLATE_FIELDS = {"name", "language", "category", "components", "allow_category_change", "parameter_format"}
COMPONENT_TYPES = {"HEADER", "BODY", "FOOTER", "BUTTONS"}
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def _check_template(body: dict[str, Any]) -> list[str]:
    """What is wrong with a template creation, field by field (Meta's "Create templates" page; empty: nothing)."""
    problems = [f"{name}: not a field of a template" for name in sorted(set(body) - TEMPLATE_FIELDS)]
    problems += [f"{name}: required" for name in ("name", "language", "category", "components") if name not in body]
    if problems:
        return problems
    if not isinstance(body["name"], str) or not re.fullmatch(r"[a-z0-9_]{1,512}", body["name"]):
        problems.append("name: lower-case letters, digits and underscores, at most 512")
    if not isinstance(body["language"], str) or not re.fullmatch(r"[a-z]{2,3}(_[A-Za-z]{2,4})?", body["language"]):
        problems.append(f"language: {body['language']!r} is not a language code")
    if body["category"] not in {"MARKETING", "UTILITY", "AUTHENTICATION"}:
        problems.append(f"category: {body['category']!r}")
    components = body["components"]
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        return [*problems, "components: a list of objects"]
    kinds = [c.get("type") for c in components]
    if kinds.count("BODY") != 1 or any(kinds.count(k) > 1 for k in COMPONENT_TYPES):
        problems.append(f"components: one BODY and at most one of each other type, not {kinds}")
    for c in components:
        kind, text = c.get("type"), c.get("text")
        if kind not in COMPONENT_TYPES:
            problems.append(f"components.type: {kind!r}")
        elif kind == "BODY":
            variables = _VARIABLE.findall(text) if isinstance(text, str) else []
            if not isinstance(text, str) or not 1 <= len(text) <= 1024:
                problems.append("BODY.text: 1 to 1024 characters")
            elif variables and not (
                isinstance(c.get("example"), dict)
                and isinstance(c["example"].get("body_text"), list)
                and len(c["example"]["body_text"]) == 1
                and len(c["example"]["body_text"][0]) == len(set(variables))
            ):
                problems.append("BODY.example.body_text: one list with a sample for each variable")
        elif kind == "HEADER":
            if c.get("format") not in {"TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"}:
                problems.append(f"HEADER.format: {c.get('format')!r}")
            elif c["format"] == "TEXT" and (not isinstance(text, str) or not 1 <= len(text) <= 60):
                problems.append("HEADER.text: 1 to 60 characters")
        elif kind == "FOOTER" and (not isinstance(text, str) or not 1 <= len(text) <= 60 or _VARIABLE.search(text)):
            problems.append("FOOTER.text: 1 to 60 characters, no variables")
    return problems
