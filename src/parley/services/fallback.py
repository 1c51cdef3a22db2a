"""WhatsApp first, then SMS (issue 12 §7).

A WhatsApp message sent with ``fallback = "sms"`` (per send, or the number's setting) goes as SMS — the same message,
its ``channel`` turned to sms and its job queued again — when WhatsApp cannot deliver it: the send is refused for
good (131026 not on WhatsApp, 131047 the window closed, …), Meta's status says failed, or it is still not delivered
at its ``fallback_at`` (the number's ``fallback_after``). The message's ``route`` keeps each step: tried WhatsApp at
…, failed with …, sent by SMS at …. A message goes back to SMS once (its fallback is cleared in the same update,
which only one worker can win).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.text import split
from parley.services.whatsapp_sends import route_step
from parley.store import change_notes, queue
from parley.store.tables import jobs, message_events, messages

log = structlog.get_logger()
# What a message may still be when its time to be delivered on WhatsApp runs out.
_UNDELIVERED = ("queued", "sending", "sent")


def wants_sms(row: Any) -> bool:
    """Whether a failed message goes on as SMS: a WhatsApp text with fallback to a customer with a number."""
    return (
        row is not None
        and row.channel == "whatsapp"
        and row.fallback == "sms"
        and row.direction == "out"
        and bool(row.body)
        and str(row.recipient).startswith("+")
    )


async def to_sms(
    conn: AsyncConnection, rows: Sequence[Any], why: dict[str, tuple[str, str | None]], now: datetime
) -> list[dict[str, Any]]:
    """Turn failed WhatsApp messages into queued SMS, in the caller's transaction; returns the status changes.

    ``why``: message id -> (what went wrong, the provider's code). Rows that do not want it are skipped.
    """
    changes: list[dict[str, Any]] = []
    for row in rows:
        if not wants_sms(row):
            continue
        reason, code = why.get(row.id, ("WhatsApp could not deliver it", None))
        segments = split(row.body)
        route = [*(row.route or []), route_step("whatsapp", now, "failed", code=code, detail=reason[:300]),
                 route_step("sms", now, "queued")]  # fmt: skip
        won = await conn.execute(
            messages.update()
            .where(messages.c.id == row.id, messages.c.channel == "whatsapp", messages.c.fallback == "sms")
            .values(
                channel="sms", status="queued", transport=None, fallback=None, fallback_at=None, route=route,
                segments=segments.count, encoding=segments.encoding.value, error=None, error_code=None,
                updated_at=now,
            )
        )  # fmt: skip
        if won.rowcount != 1:
            continue
        changes.append({"id": row.id, "status": "queued", "detail": f"WhatsApp: {reason[:300]}; going by SMS"})
    if changes:
        ids = [c["id"] for c in changes]
        await conn.execute(
            message_events.insert(),
            [{"message_id": c["id"], "status": "queued", "at": now, "detail": c["detail"]} for c in changes],
        )
        change_notes.statuses(conn, ((i, "queued") for i in ids))
        await queue.finish(conn, ids)
        await queue.enqueue_many(conn, [(i, now) for i in ids])
        log.info("fallback.to_sms", messages=len(ids))
    return changes


async def overdue(conn: AsyncConnection, now: datetime, limit: int = 500) -> list[Any]:
    """WhatsApp messages past their ``fallback_at`` and not delivered; a queued one only while no worker holds it."""
    free = sa.select(jobs.c.message_id).where(jobs.c.lease_until.is_not(None), jobs.c.lease_until > now)
    query = (
        sa.select(*messages.c)
        .where(
            messages.c.channel == "whatsapp",
            messages.c.fallback == "sms",
            messages.c.fallback_at.is_not(None),
            messages.c.fallback_at <= now,
            messages.c.status.in_(_UNDELIVERED),
            messages.c.id.not_in(free),
        )
        .order_by(messages.c.fallback_at)
        .limit(limit)
    )
    return list((await conn.execute(query)).all())


def late_reason(row: Any) -> str:
    at = row.created_at.astimezone(UTC).strftime("%H:%M:%S")
    return f"not delivered on WhatsApp in time (sent at {at} UTC, status {row.status})"
