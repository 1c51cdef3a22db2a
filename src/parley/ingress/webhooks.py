"""Inbound webhooks: carriers and gateways POST messages here (Twilio form, or Parley's generic JSON), and Twilio
its status callbacks.

Each needs its secret: a Twilio request is checked with the auth token of the twilio transport whose ``account_sid``
is the request's ``AccountSid`` (and is received under that transport's name), else with `[webhooks]`
``twilio_auth_token``; the generic JSON with `[webhooks]` ``secret``. An endpoint without one refuses every
request, so nothing unauthenticated is ever stored. A message is stored (durably) before the answer;
routing it into a conversation happens afterwards.

Carriers retry a 5xx, for ever: a payload that cannot be taken is a 4xx naming the field (`webhook_formats` says
what is stored anyway), so nothing a carrier sends makes it retry in a loop. When storing fails, the database being
down is a 503 (try later); any other failure stays a 500 on purpose: messages are group-committed, so a failed
write may have been another request's fault, and a retry is what saves this one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from parley.app_state import ParleyDep
from parley.channels.base import Inbound
from parley.channels.twilio import parse_status
from parley.channels.webhook_formats import (
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
from parley.ingress.webhook_replies import json_body, store_event, store_or_503, unavailable
from parley.services.directory import DirectoryCache

if TYPE_CHECKING:
    from parley.bootstrap import Parley

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

T = TypeVar("T")


def _inbound(hook: InboundWebhook, *, fetch_media: bool) -> Inbound:
    """``fetch_media``: the transport's channel can fetch ``hook.media`` (Twilio's MediaUrl{N}, with its account's
    credentials); the generic webhook's URLs are only kept in ``extra``."""
    extra = {f"media{i}": url for i, url in enumerate(hook.media)}
    if hook.channel != "sms":
        extra["channel"] = hook.channel
    if hook.notes:
        extra["note"] = "; ".join(hook.notes)
    return Inbound(
        hook.sender,
        hook.to,
        hook.text,
        carrier_id=hook.carrier_id,
        received_at=hook.received_at,
        extra=extra,
        media=hook.media if fetch_media else (),
        channel=hook.channel,
    )


async def _webhook_settings(cache: DirectoryCache) -> dict[str, Any]:
    value = (await cache.config()).settings.get("webhooks") or {}
    return value if isinstance(value, dict) else {}


async def _twilio_event(
    request: Request, parley: Parley, parse: Callable[[Mapping[str, str]], T]
) -> tuple[str, T] | JSONResponse:
    """(the transport it is for, what ``parse`` reads in its form) of a Twilio request whose signature verifies;
    or the refusal (``parse`` raises WebhookError naming the parameter at fault)."""
    try:
        form = await request.form()
    except Exception:
        return _error(400, None, "the body is not a form")
    params = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    account_sid = next((v.strip() for k, v in params if k == "AccountSid"), "")
    try:
        account = await parley.carrier_accounts.twilio(account_sid) if account_sid else None
        config = await _webhook_settings(parley.cache)
    except Exception as exc:  # the database is down: Twilio tries again later
        return unavailable(exc, "twilio", "the request could not be checked now")
    if account is not None:
        transport, token = account.transport, account.auth_token
    elif config.get("twilio_auth_token"):
        transport, token = "twilio", str(config["twilio_auth_token"])
    else:
        reason = "no twilio transport has this AccountSid and [webhooks] twilio_auth_token is not set"
        return _error(404, "AccountSid", reason)
    # The URL Twilio signed: ours (PARLEY_PUBLIC_URL, as in the StatusCallback we gave), else as it reached us.
    query = request.url.query
    urls = [
        parley.settings.public_base + request.url.path + (f"?{query}" if query else ""),
        public_url(
            request.url.scheme, request.headers.get("host", request.url.netloc), request.url.path, query,
            request.headers, bool(config.get("trust_proxy", False)),
        ),
    ]  # fmt: skip
    signature = request.headers.get(TWILIO_SIGNATURE_HEADER)
    if not any(verify_twilio(url, params, token, signature) for url in dict.fromkeys(urls)):
        return _error(403, TWILIO_SIGNATURE_HEADER, "the signature does not match this request")
    try:
        return transport, parse(dict(params))
    except WebhookError as exc:
        return _error(exc.status, exc.field, exc.reason)


router = APIRouter(prefix="/api/v2/webhooks", tags=["Webhooks"])


@router.post("/twilio", response_class=Response)
async def twilio(request: Request, parley: ParleyDep) -> Response:
    """Twilio's incoming-message webhook; `X-Twilio-Signature` must verify with the account's auth token."""
    verified = await _twilio_event(request, parley, parse_twilio)
    if isinstance(verified, JSONResponse):
        return verified
    transport, hook = verified
    stored = await store_event(parley, transport, _inbound(hook, fetch_media=True), source=transport)
    return stored if isinstance(stored, JSONResponse) else Response(EMPTY_TWIML, media_type="text/xml")


@router.post("/twilio/status", response_class=Response)
async def twilio_status(request: Request, parley: ParleyDep) -> Response:
    """Twilio's status callback (the `StatusCallback` of each message sent); signed like the inbound webhook.

    A callback for a message Parley does not know is stored too and discarded by the receipts matcher later.
    """
    verified = await _twilio_event(request, parley, parse_status)
    if isinstance(verified, JSONResponse):
        return verified
    transport, receipt = verified
    reason = "the status could not be stored now"
    stored = await store_or_503(parley.deliveries.receipt(transport, receipt), transport=transport, reason=reason)
    return stored if isinstance(stored, JSONResponse) else Response(status_code=200)


@router.post("/inbound", status_code=202)
async def generic(request: Request, parley: ParleyDep) -> JSONResponse:
    """Parley's generic JSON form (see the module docs); `X-Parley-Signature: sha256=<hex HMAC>`."""
    config = await _webhook_settings(parley.cache)
    secret = config.get("secret")
    if not secret:
        return _error(404, None, "the inbound webhook is not configured ([webhooks] secret)")
    body = await request.body()
    if not verify_generic(secret, body, request.headers.get(GENERIC_SIGNATURE_HEADER)):
        return _error(403, GENERIC_SIGNATURE_HEADER, "the signature does not match this body")
    payload = json_body(body)
    if isinstance(payload, JSONResponse):
        return payload
    try:
        hook = parse_generic(payload, default_region=(await parley.cache.config()).country)
    except WebhookError as exc:
        return _error(exc.status, exc.field, exc.reason)
    stored = await store_event(parley, "webhook", _inbound(hook, fetch_media=False), source="webhook")
    return stored if isinstance(stored, JSONResponse) else JSONResponse({"id": stored}, status_code=202)
