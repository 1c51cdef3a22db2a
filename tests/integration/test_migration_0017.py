"""Migration 0017 (a delivery keeps its first attempt when that one succeeded) keeps the attempts it finds, up and
down: going down, attempts kept on their delivery become webhook_attempts rows again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from parley.store.db import Database
from parley.store.migrate import downgrade, upgrade
from tests.support.schema import rows

NOW = "2027-01-10 09:00:00.000000"
LATER = "2027-01-10 09:00:05.000000"


def _delivery(event_id: str, attempts: int) -> sa.TextClause:
    return sa.text(
        "INSERT INTO webhook_deliveries (event_id, event_type, url, format, body, state, attempts, last_status, "
        f"last_attempt_at, delivered_at, due_at, created_at) VALUES ('{event_id}', 'message.status', "
        f"'https://example.com/cb', 'parley', '{{}}', 'delivered', {attempts}, 200, '{NOW}', '{NOW}', '{NOW}', '{NOW}')"
    )


async def test_attempts_stay_where_they_are_up_and_are_all_rows_again_down(empty_url: str) -> None:
    db = Database(empty_url)
    try:
        await upgrade(db, "0016")
        async with db.write() as conn:
            await conn.execute(_delivery("evt_old", 1))
            old = await conn.scalar(sa.text("SELECT id FROM webhook_deliveries WHERE event_id = 'evt_old'"))
            await conn.execute(
                sa.text(
                    "INSERT INTO webhook_attempts (delivery_id, at, status, answer, duration_ms) "
                    f"VALUES ({old}, '{NOW}', 200, 'old', 7)"
                )
            )
        await upgrade(db, "0017")
        assert await rows(db, "SELECT event_id, first_at, first_status, first_answer FROM webhook_deliveries") == [
            ("evt_old", None, None, None)
        ]
        assert await rows(db, "SELECT status, answer, duration_ms FROM webhook_attempts") == [(200, "old", 7)]
        async with db.write() as conn:  # delivered at its first attempt, then resent and delivered again
            await conn.execute(_delivery("evt_new", 2))
            new = await conn.scalar(sa.text("SELECT id FROM webhook_deliveries WHERE event_id = 'evt_new'"))
            await conn.execute(
                sa.text(
                    f"UPDATE webhook_deliveries SET first_at = '{NOW}', first_status = 202, first_answer = 'first', "
                    f"first_duration_ms = 12 WHERE id = {new}"
                )
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO webhook_attempts (delivery_id, at, status, answer, duration_ms) "
                    f"VALUES ({new}, '{LATER}', 200, 'again', 8)"
                )
            )

        await downgrade(db, "0016")
        found = await rows(
            db,
            "SELECT d.event_id, a.status, a.error, a.answer, a.duration_ms FROM webhook_attempts a "
            "JOIN webhook_deliveries d ON d.id = a.delivery_id ORDER BY d.event_id, a.at",
        )
        assert found == [
            ("evt_new", 202, None, "first", 12),
            ("evt_new", 200, None, "again", 8),
            ("evt_old", 200, None, "old", 7),
        ]
        with pytest.raises(sa.exc.DBAPIError):
            await rows(db, "SELECT first_at FROM webhook_deliveries")
    finally:
        await db.close()
