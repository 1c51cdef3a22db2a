"""Migration 0019 (the route claim's whole order in its index; an index of leased webhook deliveries), up and down,
keeping the jobs it finds."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from parley.store.db import Database
from parley.store.migrate import downgrade, upgrade
from tests.support.schema import rows

NOW = "2026-12-02 10:00:00.000000"


async def _indexes(db: Database) -> dict[str, list[str | None]]:
    def read(connection: Connection) -> dict[str, list[str | None]]:
        found = sa.inspect(connection)
        return {
            index["name"]: index["column_names"]
            for table in ("jobs", "webhook_deliveries")
            for index in found.get_indexes(table)
            if index["name"] in ("ix_jobs_kind_due", "ix_webhook_deliveries_leased")
        }

    async with db.read() as conn:
        return await conn.run_sync(read)


async def test_the_indexes_change_up_and_back_down_and_the_jobs_stay(empty_url: str) -> None:
    db = Database(empty_url)
    try:
        await upgrade(db, "0018")
        async with db.write() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO messages (id, direction, sender, recipient, body, status, segments, encoding, "
                    f"source, created_at, updated_at) VALUES ('m1', 'in', '+15557654321', '+15551230001', 'hi', "
                    f"'received', 1, 'gsm7', 'test', '{NOW}', '{NOW}')"
                )
            )
            await conn.execute(
                sa.text(f"INSERT INTO jobs (message_id, kind, due_at, attempts) VALUES ('m1', 'route', '{NOW}', 0)")
            )
        assert await _indexes(db) == {"ix_jobs_kind_due": ["kind", "due_at"]}
        await upgrade(db, "0019")
        assert await _indexes(db) == {
            "ix_jobs_kind_due": ["kind", "due_at", "message_id"],
            "ix_webhook_deliveries_leased": ["lease_until"],
        }

        await downgrade(db, "0018")
        assert await _indexes(db) == {"ix_jobs_kind_due": ["kind", "due_at"]}
        assert await rows(db, "SELECT message_id, kind FROM jobs") == [("m1", "route")]
    finally:
        await db.close()
