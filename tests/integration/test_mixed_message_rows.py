"""One group commit inserts rows of different sends: an SMS, a WhatsApp template send, an API send with a status
callback — each with keys the others lack. They go in one insert, each keeping its own values."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from parley.services.send import outbound_row
from parley.store import messages as message_store
from parley.store.db import Database
from parley.store.tables import messages
from tests.support.provisioning import provision

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def test_rows_with_different_optional_columns_go_in_one_insert(db: Database) -> None:
    await provision(db, NOW)
    sms = outbound_row(sender="+15551230001", to="+15557654321", text="sms", now=NOW, user_id=None, source="api")
    template = {k: v for k, v in sms.items() if k not in ("status_callback", "callback_format", "api_key_id")}
    template |= {"id": "t" * 20, "channel": "whatsapp", "template": {"name": "order_ready", "variables": ["Kim"]},
                 "fallback": "sms"}  # fmt: skip
    callback = sms | {"id": "c" * 20, "status_callback": "https://example.com/cb", "callback_format": "twilio"}
    async with db.write() as conn:
        await message_store.add_all(conn, [sms, template, callback])
    async with db.read() as conn:
        rows = {r.id: r for r in (await conn.execute(sa.select(messages))).all()}
    assert rows[sms["id"]].template is None and rows[sms["id"]].delivery_assumed is False
    assert rows["t" * 20].template == {"name": "order_ready", "variables": ["Kim"]}
    assert (rows["t" * 20].fallback, rows["t" * 20].status_callback) == ("sms", None)
    assert rows["c" * 20].status_callback == "https://example.com/cb" and rows["c" * 20].callback_format == "twilio"
