"""Outbound message rows with their send jobs, written straight to the store, for tests of what happens next."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from parley.store import messages, queue
from parley.store.db import Database


async def add_outbound(
    db: Database,
    ids: Sequence[str],
    *,
    now: datetime,
    status: str = "queued",
    segments: int = 1,
    due: datetime | None = None,
) -> list[str]:
    """One message from +15551230001 to +15551234567 per id, each with its job due at ``due`` (default ``now``)."""
    rows = [
        {"id": mid, "direction": "out", "user_id": None, "sender": "+15551230001", "recipient": "+15551234567",
         "body": "hi", "status": status, "segments": segments, "encoding": "gsm7", "source": "test",
         "created_at": now, "updated_at": now}
        for mid in ids
    ]  # fmt: skip
    async with db.write() as conn:
        await messages.add_all(conn, rows)
        await queue.enqueue_many(conn, [(mid, due or now) for mid in ids])
    return list(ids)
