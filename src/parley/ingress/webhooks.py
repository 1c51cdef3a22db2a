"""Inbound webhooks: carriers and gateways POST messages here (Twilio form, or Parley's generic JSON).

Both need their secret configured (provisioning `[webhooks]`): an endpoint without one refuses every
request, so nothing unauthenticated is ever stored. A message is stored (durably) before the answer;
routing it into a conversation happens afterwards.

Carriers retry a 5xx, for ever: a payload that cannot be taken is a 4xx naming the field (`webhook_formats` says
what is stored anyway), so nothing a carrier sends makes it retry in a loop. When storing fails, the database being
down is a 503 (try later); any other failure stays a 500 on purpose: messages are group-committed, so a failed
write may have been another request's fault, and a retry is what saves this one.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from parley.channels.base import Inbound
from parley.ingress.webhook_formats import (
    GENERIC_SIGNATURE_HEADER,
    TWILIO_SIGNATURE_HEADER,
    InboundWebhook,
    WebhookError,
    parse_generic,
    parse_twilio,
    public_url,
    verify_generic,
    verify_twilio,
)
from parley.ingress.webhook_replies import error_reply as _error
from parley.ingress.webhook_replies import store_or_503
from parley.services.directory import DirectoryCache
from parley.services.receive import Inbox

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _inbound(hook: InboundWebhook) -> Inbound:
    extra = {f"media{i}": url for i, url in enumerate(hook.media)}
    if hook.channel != "sms":
        extra["channel"] = hook.channel
    if hook.notes:
        extra["note"] = "; ".join(hook.notes)
    return Inbound(
        hook.sender, hook.to, hook.text, carrier_id=hook.carrier_id, received_at=hook.received_at, extra=extra
    )


async def _store(inbox: Inbox, transport: str, hook: InboundWebhook) -> str | JSONResponse | None:
    """The stored message's id; or a 503 when the database is unreachable (the carrier tries again later)."""
    return await store_or_503(inbox.receive(transport, _inbound(hook), source=transport), transport=transport)


def router(inbox: Inbox, cache: DirectoryCache) -> APIRouter:
    api = APIRouter(prefix="/api/v2/webhooks", tags=["Webhooks"])

    async def settings() -> dict[str, Any]:
        value = (await cache.config()).settings.get("webhooks") or {}
        return value if isinstance(value, dict) else {}

    @api.post("/twilio", response_class=Response)
    async def twilio(request: Request) -> Response:
        """Twilio's incoming-message webhook; `X-Twilio-Signature` must verify with the auth token."""
        config = await settings()
        token = config.get("twilio_auth_token")
        if not token:
            return _error(404, None, "the Twilio webhook is not configured ([webhooks] twilio_auth_token)")
        try:
            form = await request.form()
        except Exception:
            return _error(400, None, "the body is not a form")
        params = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        url = public_url(
            request.url.scheme, request.headers.get("host", request.url.netloc), request.url.path,
            request.url.query, request.headers, bool(config.get("trust_proxy", False)),
        )  # fmt: skip
        if not verify_twilio(url, params, token, request.headers.get(TWILIO_SIGNATURE_HEADER)):
            return _error(403, TWILIO_SIGNATURE_HEADER, "the signature does not match this request")
        try:
            hook = parse_twilio(dict(params))
        except WebhookError as exc:
            return _error(exc.status, exc.field, exc.reason)
        stored = await _store(inbox, "twilio", hook)
        if isinstance(stored, JSONResponse):
            return stored
        return Response(EMPTY_TWIML, media_type="text/xml")

    @api.post("/inbound", status_code=202)
    async def generic(request: Request) -> JSONResponse:
        """Parley's generic JSON form (see the module docs); `X-Parley-Signature: sha256=<hex HMAC>`."""
        config = await settings()
        secret = config.get("secret")
        if not secret:
            return _error(404, None, "the inbound webhook is not configured ([webhooks] secret)")
        body = await request.body()
        if not verify_generic(secret, body, request.headers.get(GENERIC_SIGNATURE_HEADER)):
            return _error(403, GENERIC_SIGNATURE_HEADER, "the signature does not match this body")
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            return _error(400, None, "the body is not JSON")
        try:
            hook = parse_generic(payload, default_region=(await cache.config()).country)
        except WebhookError as exc:
            return _error(exc.status, exc.field, exc.reason)
        stored = await _store(inbox, "webhook", hook)
        if isinstance(stored, JSONResponse):
            return stored
        return JSONResponse({"id": stored}, status_code=202)

    return api
