"""What every carrier webhook answers when it cannot take a request, shared by `webhooks` and `telnyx_webhook`.

Carriers retry a 5xx, for ever: a payload that cannot be taken is a 4xx naming the field. Storing it may fail;
the database being down is a 503 (try later), and any other failure stays a 500 on purpose: writes are
group-committed, so a failed write may have been another request's fault, and a retry is what saves this one.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import structlog
from fastapi.responses import JSONResponse

from parley.ingress.failures import is_temporary

log = structlog.get_logger()

T = TypeVar("T")


def error_reply(status: int, field: str | None, reason: str) -> JSONResponse:
    """``{"error": {"field", "reason"}}`` with ``status``."""
    return JSONResponse({"error": {"field": field, "reason": reason}}, status_code=status)


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
