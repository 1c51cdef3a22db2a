"""What a bot's message becomes (an out-of-hours answer, a timed action's message), on the customer's channel.

A customer with a reply link's chat page open is answered there (channel ``web``, `services.reply_links`).
A customer who last wrote on WhatsApp is answered on WhatsApp: free-form inside the 24-hour window; outside it with
the bot's WhatsApp template (`bots.whatsapp_template`), or not at all — then `NotSent` says why, and the caller
records it in the conversation's timeline (never a silent failure).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.whatsapp_rules import TemplateSpec, TemplateSpecError, window_expires_at, window_open
from parley.services.errors import ServiceError
from parley.services.send import outbound_row
from parley.services.whatsapp_sends import TemplateResolver
from parley.store import reply_links
from parley.store.tables import bots


@dataclass(frozen=True)
class NotSent:
    reason: str


@dataclass(frozen=True)
class Thread:
    """What a bot's message needs to know of its conversation."""

    id: str
    company_number: str
    customer: str
    last_channel: str | None
    whatsapp_last_inbound_at: datetime | None


async def bot_row(
    conn: AsyncConnection,
    thread: Thread,
    bot: str,
    text: str,
    now: datetime,
    templates: TemplateResolver | None,
) -> dict[str, Any] | NotSent:
    """The outbound row of ``bot`` saying ``text`` in the conversation, or why it cannot be sent."""
    row = outbound_row(sender=thread.company_number, to=thread.customer, text=text, now=now, user_id=None,
                       source="bot", conversation_id=thread.id, bot=bot)  # fmt: skip
    on_whatsapp = thread.last_channel == "whatsapp" or not thread.customer.startswith("+")
    if not on_whatsapp:
        if await reply_links.is_present(conn, thread.company_number, thread.customer, now):
            row |= {"channel": "web", "status": "delivered"}  # the customer has a reply link's chat page open
        return row
    row |= {"channel": "whatsapp", "segments": 1}
    if window_open(thread.whatsapp_last_inbound_at, now):
        return row
    closed = window_expires_at(thread.whatsapp_last_inbound_at)
    when = closed.astimezone(UTC).isoformat().replace("+00:00", "Z") if closed else "before the customer wrote"
    doc = await conn.scalar(sa.select(bots.c.whatsapp_template).where(bots.c.name == bot))
    if not doc:
        return NotSent(f"WhatsApp's 24-hour window closed at {when} and bot {bot} has no whatsapp_template")
    if templates is None:
        return NotSent(f"WhatsApp's 24-hour window closed at {when} and templates are not available here")
    try:
        spec = TemplateSpec.from_doc(doc, "whatsapp_template")
        rendered = await templates.resolve(thread.company_number, spec)
    except (TemplateSpecError, ServiceError) as exc:
        return NotSent(f"WhatsApp's 24-hour window closed at {when}; bot {bot}'s template cannot be sent: {exc}")
    return row | {"body": rendered.text, "template": spec.to_doc()}
