"""Meta's WhatsApp Cloud API webhook at ``/api/v2/webhooks/whatsapp`` (issue 12 §1).

``GET`` is the subscription handshake: ``hub.challenge`` comes back when ``hub.mode`` is "subscribe" and
``hub.verify_token`` is a whatsapp transport's verify token; anything else is a 403. ``POST`` carries messages and
statuses: ``X-Hub-Signature-256`` is checked on the raw bytes, before anything is parsed, with the app secret of
each whatsapp transport (several numbers may share one Meta app); then `parley.channels.whatsapp_webhook.
parse_webhook` reads it, and each item goes to the transport its ``metadata.phone_number_id`` names — provided that
transport's own secret signed the body. An item for a number no transport serves is logged and ignored (200, so
Meta does not retry it for ever); a body that cannot be read is a 400 naming the field; the database being down
a 503 (Meta retries).
"""

from __future__ import annotations

import hmac
from dataclasses import replace

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from parley.app_state import ParleyDep
from parley.channels.base import Inbound
from parley.channels.whatsapp_webhook import (
    SIGNATURE_HEADER,
    WebhookProblem,
    WhatsAppWebhookError,
    parse_webhook,
    verify_handshake,
    verify_signature,
)
from parley.ingress.webhook_replies import error_reply, json_body, store_event

log = structlog.get_logger()

PATH = "/api/v2/webhooks/whatsapp"


router = APIRouter(tags=["Webhooks"])


@router.get(PATH, response_class=PlainTextResponse)
async def handshake(request: Request, parley: ParleyDep) -> Response:
    """Meta's subscription check: answers `hub.challenge` to a whatsapp transport's verify token."""
    params = dict(request.query_params)
    for account in await parley.carrier_accounts.whatsapp_accounts():
        challenge = verify_handshake(params, account.verify_token)
        if challenge is not None:
            log.info("whatsapp.subscribed", transport=account.transport)
            return PlainTextResponse(challenge)
    return error_reply(403, "hub.verify_token", "not the verify token of a WhatsApp transport")


@router.post(PATH, response_class=JSONResponse)
async def events(request: Request, parley: ParleyDep) -> JSONResponse:
    """Messages and statuses; `X-Hub-Signature-256` must verify with a whatsapp transport's app secret."""
    accounts = parley.carrier_accounts
    known = await accounts.whatsapp_accounts()
    if not known:
        return error_reply(404, None, "no WhatsApp transport is configured")
    body = await request.body()
    header = request.headers.get(SIGNATURE_HEADER)
    signed_by = {a.app_secret for a in known if verify_signature(a.app_secret, body, header)}
    if not signed_by:
        return error_reply(403, SIGNATURE_HEADER, "the signature does not match this body")
    payload = json_body(body)
    if isinstance(payload, JSONResponse):
        return payload
    try:
        items = parse_webhook(payload)
    except WhatsAppWebhookError as exc:
        return error_reply(400, exc.field, exc.reason)
    for item in items:
        account = await accounts.whatsapp(item.phone_number_id)
        if account is None or not any(hmac.compare_digest(account.app_secret, s) for s in signed_by):
            log.info("whatsapp.unknown_number", phone_number_id=item.phone_number_id[:32])
            continue
        event = item.event
        if isinstance(event, WebhookProblem):  # Meta's own problem report about this number (value.errors)
            log.warning("whatsapp.problem", transport=account.transport, code=event.code, title=event.title)
            continue
        if isinstance(event, Inbound) and not event.sender:
            # A customer known only by a business-scoped id / username: the id stands for the number until
            # conversations get an `external_id` of their own (issue 12 §2).
            event = replace(event, sender=event.extra.get("external_id", "")[:32])
        stored = await store_event(parley, account.transport, event, source="whatsapp")
        if isinstance(stored, JSONResponse):
            return stored
    return JSONResponse({})
