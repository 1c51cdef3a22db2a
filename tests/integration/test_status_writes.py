"""Status changes written set-wise (issue 15): the same on SQLite and PostgreSQL, whatever the batch size."""

from __future__ import annotations

import sqlalchemy as sa

from parley.store import messages, queue
from parley.store.bulk import COPY_THRESHOLD
from parley.store.db import Database
from parley.store.tables import message_events
from tests.conftest import Clock
from tests.support.outbound import add_outbound


async def test_a_large_batch_of_changes_updates_every_message_and_records_every_event(
    db: Database, clock: Clock
) -> None:
    ids = await add_outbound(db, [f"m{i:03}" for i in range(COPY_THRESHOLD + 20)], now=clock())
    sent = [{"id": m, "status": "sent", "transport": "smsc", "error": None} for m in ids[::2]]
    failed = [{"id": m, "status": "failed", "error": "no", "error_code": "11"} for m in ids[1::2]]
    async with db.write() as conn:
        await messages.set_status(conn, sent + failed, now=clock())
        await queue.finish(conn, ids)
    async with db.read() as conn:
        rows = await messages.get_many(conn, ids)
        events = (await conn.execute(sa.select(message_events.c.message_id, message_events.c.status))).all()
        assert await queue.depth(conn) == 0
    assert {m: (r.status, r.transport, r.error_code) for m, r in rows.items()} == {
        **{m: ("sent", "smsc", None) for m in ids[::2]},
        **{m: ("failed", None, "11") for m in ids[1::2]},
    }
    assert sorted((e.message_id, e.status) for e in events) == sorted(
        [(m, "sent") for m in ids[::2]] + [(m, "failed") for m in ids[1::2]]
    )


async def test_a_message_changed_twice_in_one_batch_keeps_the_last_status_and_both_events(
    db: Database, clock: Clock
) -> None:
    await add_outbound(db, ["m1"], now=clock())
    async with db.write() as conn:
        await messages.set_status(
            conn, [{"id": "m1", "status": "sent"}, {"id": "m1", "status": "delivered"}], now=clock()
        )
    async with db.read() as conn:
        row = (await messages.get_many(conn, ["m1"]))["m1"]
        events = (await conn.execute(sa.select(message_events.c.status).order_by(message_events.c.id))).scalars().all()
    assert row.status == "delivered"
    assert list(events) == ["sent", "delivered"]
