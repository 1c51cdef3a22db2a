"""Migration 0005 (carrier ids that repeat, job faults) keeps the data it finds, up and down."""

from __future__ import annotations

import sqlalchemy as sa

from parley.store.db import Database
from parley.store.migrate import downgrade, upgrade
from tests.support.schema import rows

NOW = "2026-11-24 12:00:00.000000"


async def test_parts_and_inbound_carrier_ids_survive_the_upgrade_and_the_downgrade(empty_url: str) -> None:
    db = Database(empty_url)
    try:
        await upgrade(db, "0004")
        async with db.write() as conn:
            for mid, direction, carrier in (("m1", "out", None), ("m2", "out", None), ("i1", "in", "abc")):
                await conn.execute(
                    sa.text(
                        "INSERT INTO messages (id, direction, sender, recipient, body, status, segments, encoding, "
                        "source, transport, carrier_id, created_at, updated_at) VALUES (:id, :d, '+1', '+2', 'hi', "
                        f"'sent', 1, 'gsm7', 'test', 'carrier', :c, '{NOW}', '{NOW}')"
                    ),
                    {"id": mid, "d": direction, "c": carrier},
                )
            # m1 was sent twice (at-least-once): two rows for its one part under the old key.
            for carrier_id, mid in (("1000", "m1"), ("1001", "m1"), ("1002", "m2")):
                await conn.execute(
                    sa.text(
                        "INSERT INTO message_parts (transport, carrier_id, message_id, part, state) "
                        "VALUES ('carrier', :c, :m, 0, 'delivered')"
                    ),
                    {"c": carrier_id, "m": mid},
                )
        await upgrade(db, "0005")
        parts = await rows(db, "SELECT message_id, part, carrier_id, state FROM message_parts ORDER BY message_id")
        assert parts == [("m1", 0, "1001", "delivered"), ("m2", 0, "1002", "delivered")]
        assert await rows(db, "SELECT count(*) FROM message_parts WHERE recorded_at IS NULL") == [(0,)]
        assert await rows(db, "SELECT id FROM messages WHERE carrier_id = 'abc'") == [("i1",)]

        await downgrade(db, "0004")
        assert await rows(db, "SELECT carrier_id, message_id FROM message_parts ORDER BY carrier_id") == [
            ("1001", "m1"),
            ("1002", "m2"),
        ]
    finally:
        await db.close()
