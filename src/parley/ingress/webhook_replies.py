"""What every carrier webhook does once a request's signature verifies, shared by `webhooks`, `telnyx_webhook` and
`whatsapp_webhook`: read the JSON of the body, store the event it carries, and answer when it cannot.

Carriers retry a 5xx, for ever: a payload that cannot be taken is a 4xx naming the field. Storing it may fail;
the database being down is a 503 (try later), and any other failure stays a 500 on purpose: writes are
group-committed, so a failed write may have been another request's fault, and a retry is what saves this one.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

import structlog
from fastapi.responses import JSONResponse

from parley.channels.base import Inbound, Receipt
from parley.ingress.failures import is_temporary

if TYPE_CHECKING:
    from parley.bootstrap import Parley

log = structlog.get_logger()

T = TypeVar("T")


def error_reply(status: int, field: str | None, reason: str) -> JSONResponse:
    """``{"error": {"field", "reason"}}`` with ``status``."""
    return JSONResponse({"error": {"field": field, "reason": reason}}, status_code=status)


def json_body(body: bytes) -> object | JSONResponse:
    """The JSON value of ``body`` (call it only once the signature on these bytes verified); or a 400."""
    try:
        value: object = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return error_reply(400, None, "the body is not JSON")
    return value


def unavailable(exc: Exception, transport: str, reason: str) -> JSONResponse:
    """A 503 when ``exc`` is the database being unreachable (the carrier tries again later); anything else is
    raised again."""
    if not is_temporary(exc):
        raise exc
    log.warning("webhook.store_failed", transport=transport, error=type(exc).__name__)
    return error_reply(503, None, f"{reason}; try again later")


async def store_or_503(
    write: Awaitable[T], *, transport: str, reason: str = "the message could not be stored now"
) -> T | JSONResponse:
    """What ``write`` returns; or a 503 when the database is unreachable (the carrier tries again later)."""
    try:
        return await write
    except Exception as exc:
        return unavailable(exc, transport, reason)


async def store_event(
    parley: Parley, transport: str, event: Inbound | Receipt, *, source: str
) -> str | JSONResponse | None:
    """An inbound message to the inbox (its id; None for a part still waiting), a receipt to the deliveries (None);
    or a 503 when the database is unreachable. ``source``: what the inbound message's source column says."""
    if isinstance(event, Inbound):
        return await store_or_503(parley.inbox.receive(transport, event, source=source), transport=transport)
    return await store_or_503(parley.deliveries.receipt(transport, event), transport=transport)
