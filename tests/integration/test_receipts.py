"""Delivery receipts are matched late and never dropped, whichever of receipt and submit is recorded first."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from parley.channels.base import Receipt
from parley.services.delivery import Delivered, Deliveries, Failed, Postponed
from parley.store import messages, queue
from parley.store.db import Database
from parley.store.tables import jobs, receipts
from parley.store.tables import messages as messages_table
from tests.conftest import Clock


async def _queued(db: Database, clock: Clock, mid: str, segments: int = 1) -> None:
    now = clock()
    row = {
        "id": mid, "direction": "out", "user_id": None, "sender": "+15551230001", "recipient": "+15551234567",
        "body": "hi", "status": "sending", "segments": segments, "encoding": "gsm7", "source": "test",
        "created_at": now, "updated_at": now,
    }  # fmt: skip
    async with db.write() as conn:
        await messages.add_all(conn, [row])
        await queue.enqueue_many(conn, [(mid, now)])


async def _status(db: Database, mid: str) -> tuple[str, str | None]:
    async with db.read() as conn:
        row = (await conn.execute(sa.select(messages_table.c.status, messages_table.c.error).where(
            messages_table.c.id == mid))).one()  # fmt: skip
    return row.status, row.error


async def test_a_receipt_recorded_after_its_submit_marks_the_message_delivered(db: Database, clock: Clock) -> None:
    deliveries = Deliveries(db, clock)
    await _queued(db, clock, "m1")
    await deliveries.record(Delivered("m1", "carrier", ("abc",)))
    assert await _status(db, "m1") == ("sent", None)
    await deliveries.receipt("carrier", Receipt("abc", "delivered", "DELIVRD", "000"))
    assert await _status(db, "m1") == ("delivered", None)
    async with db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(jobs)) == 0
    await deliveries.close()


async def test_a_receipt_that_arrives_before_its_submit_is_recorded_waits_and_is_applied(
    db: Database, clock: Clock
) -> None:
    deliveries = Deliveries(db, clock)
    await _queued(db, clock, "m1")
    await deliveries.receipt("carrier", Receipt("early", "delivered", "DELIVRD", "000"))
    async with db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).where(receipts.c.applied_at.is_(None))) == 1
    await deliveries.record(Delivered("m1", "carrier", ("early",)))
    assert await _status(db, "m1") == ("delivered", None)
    await deliveries.close()


async def test_the_sweep_applies_receipts_whose_match_raced(db: Database, clock: Clock) -> None:
    deliveries = Deliveries(db, clock)
    await _queued(db, clock, "m1")
    await deliveries.receipt("carrier", Receipt("raced", "undelivered", "UNDELIV", "001"))
    # The part appears without the matching step (as when two transactions missed each other).
    from parley.store import receipts as receipts_store

    async with db.write() as conn:
        await receipts_store.add_parts(
            conn, [{"transport": "carrier", "carrier_id": "raced", "message_id": "m1", "part": 0}]
        )
    assert await deliveries.sweep() == 1
    status, error = await _status(db, "m1")
    assert status == "undelivered"
    assert error is not None and "UNDELIV" in error
    await deliveries.close()


async def test_a_later_delivered_part_never_hides_an_earlier_failed_one(db: Database, clock: Clock) -> None:
    deliveries = Deliveries(db, clock)
    await _queued(db, clock, "m1", segments=2)
    await deliveries.record(Delivered("m1", "carrier", ("p1", "p2")))
    await deliveries.receipt("carrier", Receipt("p1", "undelivered", "UNDELIV", "001"))
    await deliveries.receipt("carrier", Receipt("p2", "delivered", "DELIVRD", "000"))
    assert (await _status(db, "m1"))[0] == "undelivered"
    await deliveries.close()


async def test_a_postponed_message_returns_to_the_queue_and_a_failed_one_leaves_it(db: Database, clock: Clock) -> None:
    deliveries = Deliveries(db, clock)
    await _queued(db, clock, "again")
    await _queued(db, clock, "dead")
    later = clock() + timedelta(seconds=8)
    await deliveries.record(Postponed("again", "carrier", "ESME_RTHROTTLED", later))
    await deliveries.record(Failed("dead", "carrier", "ESME_RINVDSTADR"))
    assert await _status(db, "again") == ("queued", "ESME_RTHROTTLED")
    assert await _status(db, "dead") == ("failed", "ESME_RINVDSTADR")
    async with db.read() as conn:
        due = (await conn.execute(sa.select(jobs.c.message_id, jobs.c.due_at, jobs.c.lease_until))).all()
    assert [(r.message_id, r.due_at, r.lease_until) for r in due] == [("again", later, None)]
    await deliveries.close()
