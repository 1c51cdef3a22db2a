"""When each customer last wrote to a company number on WhatsApp (the 24-hour window's start), across services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import conversations


async def last_inbound(conn: AsyncConnection, company_number: str, customers: Sequence[str]) -> dict[str, datetime]:
    """customer -> Meta's time of their newest WhatsApp message to ``company_number`` (absent: never wrote)."""
    if not customers:
        return {}
    query = sa.select(conversations.c.external_number, conversations.c.whatsapp_last_inbound_at).where(
        conversations.c.company_number == company_number,
        conversations.c.external_number.in_(sorted(set(customers))),
        conversations.c.whatsapp_last_inbound_at.is_not(None),
    )
    found: dict[str, datetime] = {}
    for customer, at in (await conn.execute(query)).all():
        if customer not in found or at > found[customer]:
            found[customer] = at
    return found
