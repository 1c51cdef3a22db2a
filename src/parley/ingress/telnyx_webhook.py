"""Telnyx's messaging webhooks at ``POST /api/v2/webhooks/telnyx``: inbound messages and delivery statuses.

The signature is checked on the raw bytes before anything is read from them, with the public key of each telnyx
transport: the one whose key verifies is the transport the event belongs to (its inbound messages and receipts are
recorded under its name). What the event says is read by `parley.channels.telnyx.parse_event`; storing it is the
inbox's or the deliveries' job, before the 200 (Telnyx retries anything else, so a body it cannot fix is a 400 and
the database being down a 503). Events other than messages' are answered 200 and ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from parley.app_state import ParleyDep
from parley.channels.telnyx import SIGNATURE_HEADER, TIMESTAMP_HEADER, TelnyxEventError, parse_event, verify_signature
from parley.ingress.webhook_replies import error_reply, json_body, store_event

log = structlog.get_logger()

PATH = "/api/v2/webhooks/telnyx"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _event_type(payload: object) -> str:
    """The event's type for a log line: short and printable, whatever the body held."""
    data = payload.get("data") if isinstance(payload, dict) else None
    value = data.get("event_type") if isinstance(data, dict) else None
    return "".join(c for c in value if c.isascii() and c.isprintable())[:64] if isinstance(value, str) else "?"


router = APIRouter(tags=["Webhooks"])


@router.post(PATH, response_class=JSONResponse)
async def telnyx(request: Request, parley: ParleyDep) -> JSONResponse:
    """Telnyx messaging events; `telnyx-signature-ed25519` must verify with a telnyx transport's public key."""
    keys = await parley.carrier_accounts.telnyx()
    if not keys:
        return error_reply(404, None, "no telnyx transport is configured")
    body = await request.body()
    timestamp, signature, now = (
        request.headers.get(TIMESTAMP_HEADER),
        request.headers.get(SIGNATURE_HEADER),
        _utcnow(),
    )
    transport = next(
        (a.transport for a in keys if verify_signature(a.public_key, timestamp, body, signature, now)), None
    )
    if transport is None:
        return error_reply(403, SIGNATURE_HEADER, "the signature does not match this body, or is too old")
    payload = json_body(body)
    if isinstance(payload, JSONResponse):
        return payload
    try:
        event = parse_event(payload, default_region=(await parley.cache.config()).country)
    except TelnyxEventError as exc:
        return error_reply(400, exc.field, exc.reason)
    if event is None:
        log.info("telnyx.event_ignored", transport=transport, event_type=_event_type(payload))
        return JSONResponse({})
    # source: the kind, not the transport's name (a column of 16 characters; `transport` holds the name)
    stored = await store_event(parley, transport, event, source="telnyx")
    return stored if isinstance(stored, JSONResponse) else JSONResponse({})
