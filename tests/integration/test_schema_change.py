"""`Database.schema_change`: on SQLite, foreign keys are off while a migration rebuilds tables, and a change that
would leave rows pointing nowhere is refused whole (``PRAGMA foreign_key_check`` before the commit)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from parley.store.db import Database
from tests.support.schema import rows

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC).replace(tzinfo=None).isoformat(sep=" ")


async def _a_delivery_with_an_attempt(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO webhook_deliveries (event_id, event_type, url, format, body, state, attempts, due_at, "
                f"created_at) VALUES ('evt_1', 'message.status', 'https://example.com/cb', 'parley', '{{}}', "
                f"'pending', 1, '{NOW}', '{NOW}')"
            )
        )
        await conn.execute(
            sa.text(
                "INSERT INTO webhook_attempts (delivery_id, at, status) "
                f"SELECT id, '{NOW}', 500 FROM webhook_deliveries"
            )
        )


async def test_a_schema_change_that_leaves_rows_pointing_nowhere_is_refused_whole(db: Database) -> None:
    if db.is_postgres:
        pytest.skip("SQLite's: PostgreSQL keeps its foreign keys during a schema change")
    await _a_delivery_with_an_attempt(db)
    with pytest.raises(RuntimeError, match="pointing nowhere"):
        async with db.schema_change() as conn:
            await conn.execute(sa.text("UPDATE webhook_deliveries SET state = 'failed'"))
            await conn.execute(sa.text("DELETE FROM webhook_deliveries"))  # its attempt is left behind
    assert await rows(db, "SELECT state FROM webhook_deliveries") == [("pending",)]
    assert await rows(db, "SELECT status FROM webhook_attempts") == [(500,)]


async def test_after_a_schema_change_foreign_keys_hold_again(db: Database) -> None:
    await _a_delivery_with_an_attempt(db)
    async with db.schema_change() as conn:
        await conn.execute(sa.text("UPDATE webhook_deliveries SET state = 'failed'"))
    async with db.write() as conn:
        await conn.execute(sa.text("DELETE FROM webhook_deliveries"))  # cascades to its attempt, as ever
    assert await rows(db, "SELECT count(*) FROM webhook_attempts") == [(0,)]
