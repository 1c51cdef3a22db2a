"""Migration 0016 (webhook deliveries' subject) keeps the deliveries it finds, and their attempts, up and down.

On SQLite the downgrade rebuilds ``webhook_deliveries`` (Alembic's batch mode: copy, drop, rename); with foreign
keys on, dropping it deleted every attempt that referred to it (ON DELETE CASCADE): `Database.schema_change`."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from parley.store.db import Database
from parley.store.migrate import downgrade, upgrade
from tests.support.schema import rows

NOW = "2026-12-01 03:00:00.000000"


async def test_deliveries_get_an_empty_subject_and_keep_everything_else_up_and_down(empty_url: str) -> None:
    db = Database(empty_url)
    try:
        await upgrade(db, "0015")
        async with db.write() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO webhook_deliveries (event_id, event_type, url, format, body, state, attempts, "
                    f"due_at, created_at) VALUES ('evt_1', 'message.status', 'https://example.com/cb', 'parley', "
                    f"'{{}}', 'pending', 0, '{NOW}', '{NOW}')"
                )
            )
        async with db.write() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO webhook_attempts (delivery_id, at, status) "
                    f"SELECT id, '{NOW}', 500 FROM webhook_deliveries"
                )
            )
        await upgrade(db, "0016")
        assert await rows(db, "SELECT event_id, subject, state FROM webhook_deliveries") == [("evt_1", None, "pending")]
        async with db.write() as conn:
            await conn.execute(sa.text("UPDATE webhook_deliveries SET subject = 'msg_1'"))

        await downgrade(db, "0015")
        assert await rows(db, "SELECT event_id, url, state FROM webhook_deliveries") == [
            ("evt_1", "https://example.com/cb", "pending")
        ]
        assert await rows(db, "SELECT status FROM webhook_attempts") == [(500,)]
        with pytest.raises(sa.exc.DBAPIError):
            await rows(db, "SELECT subject FROM webhook_deliveries")
    finally:
        await db.close()
