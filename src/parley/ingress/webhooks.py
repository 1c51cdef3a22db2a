"""Inbound webhooks: carriers and gateways POST messages here (Twilio form, or Parley's generic JSON).

Both need their secret configured (provisioning `[webhooks]`): an endpoint without one refuses every
request, so nothing unauthenticated is ever stored. A message is stored (durably) before the answer;
routing it into a conversation happens afterwards.
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
from parley.services.directory import DirectoryCache
from parley.services.receive import Inbox

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _error(status: int, field: str | None, reason: str) -> JSONResponse:
    return JSONResponse({"error": {"field": field, "reason": reason}}, status_code=status)


def _inbound(hook: InboundWebhook) -> Inbound:
    extra = {f"media{i}": url for i, url in enumerate(hook.media)}
    if hook.channel != "sms":
        extra["channel"] = hook.channel
    return Inbound(
        hook.sender, hook.to, hook.text, carrier_id=hook.carrier_id, received_at=hook.received_at, extra=extra
    )


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
            return _error(400, exc.field, exc.reason)
        await inbox.receive("twilio", _inbound(hook), source="twilio")
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
        except ValueError:
            return _error(400, None, "the body is not JSON")
        try:
            hook = parse_generic(payload, default_region=(await cache.config()).country)
        except WebhookError as exc:
            return _error(400, exc.field, exc.reason)
        message_id = await inbox.receive("webhook", _inbound(hook), source="webhook")
        return JSONResponse({"id": message_id}, status_code=202)

    return api
