"""Delivery receipts are matched late and never dropped, whichever of receipt and submit is recorded first."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from parley.channels.base import Receipt
from parley.services.delivery import Delivered, Deliveries, Failed, Postponed
from parley.store import receipts as receipts_store
from parley.store.db import Database
from parley.store.tables import jobs, message_parts, receipts
from parley.store.tables import messages as messages_table
from tests.conftest import Clock
from tests.support.outbound import add_outbound


async def _queued(db: Database, clock: Clock, mid: str, segments: int = 1) -> None:
    await add_outbound(db, [mid], now=clock(), status="sending", segments=segments)


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
            conn, [{"transport": "carrier", "carrier_id": "raced", "message_id": "m1", "part": 0}], now=clock()
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


async def _unapplied(db: Database) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).where(receipts.c.applied_at.is_(None))) or 0)


async def _old_delivered(db: Database, clock: Clock, deliveries: Deliveries, mid: str, carrier_id: str) -> None:
    """A message sent before the SMSC restarted, delivered under ``carrier_id``."""
    await _queued(db, clock, mid)
    await deliveries.record(Delivered(mid, "carrier", (carrier_id,)))
    await deliveries.receipt("carrier", Receipt(carrier_id, "delivered", "DELIVRD", "000"))
    assert (await _status(db, mid))[0] == "delivered"
    clock.advance(hours=1)  # the SMSC restarts; its ids start again


async def test_one_reused_carrier_id_among_twenty_outcomes_fails_none_of_them(db: Database, clock: Clock) -> None:
    deliveries = Deliveries(db, clock)
    await _old_delivered(db, clock, deliveries, "old", "1000")
    ids = [f"m{i:02d}" for i in range(20)]
    for mid in ids:
        await _queued(db, clock, mid)
    # One group-commit batch: every outcome submitted before the flusher runs.
    await asyncio.gather(
        *(
            deliveries.record(Delivered(mid, "carrier", ("1000" if i == 7 else f"2{i:03d}",)))
            for i, mid in enumerate(ids)
        )
    )
    assert {await _status(db, mid) for mid in ids} == {("sent", None)}
    async with db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(jobs)) == 0
    await deliveries.receipt("carrier", Receipt("1000", "delivered", "DELIVRD", "000"))
    assert (await _status(db, "m07"))[0] == "delivered"
    assert (await _status(db, "m06"))[0] == "sent"
    await deliveries.close()


async def test_a_receipt_for_a_reused_id_that_comes_before_its_part_waits_for_it_instead_of_the_old_part(
    db: Database, clock: Clock
) -> None:
    deliveries = Deliveries(db, clock)
    await _old_delivered(db, clock, deliveries, "old", "1000")
    await _queued(db, clock, "new")
    await deliveries.receipt("carrier", Receipt("1000", "undelivered", "UNDELIV", "001"))
    assert await _unapplied(db) == 1  # not spent on the old, already delivered part
    assert (await _status(db, "old"))[0] == "delivered"
    clock.advance(seconds=2)
    await deliveries.record(Delivered("new", "carrier", ("1000",)))
    assert (await _status(db, "new"))[0] == "undelivered"
    assert (await _status(db, "old"))[0] == "delivered"
    assert await _unapplied(db) == 0
    await deliveries.close()


async def test_a_repeated_receipt_for_a_part_that_has_its_final_state_is_discarded_after_a_short_wait(
    db: Database, clock: Clock
) -> None:
    deliveries = Deliveries(db, clock)
    await _old_delivered(db, clock, deliveries, "old", "1000")
    await deliveries.receipt("carrier", Receipt("1000", "undelivered", "UNDELIV", "001"))
    assert await deliveries.sweep() == 0
    assert await _unapplied(db) == 1
    clock.advance(seconds=receipts_store.RACE.total_seconds() + 1)
    assert await deliveries.sweep() == 0  # settled, applied to nothing
    assert await _unapplied(db) == 0
    assert (await _status(db, "old"))[0] == "delivered"
    await deliveries.close()


async def test_the_same_carrier_id_on_two_transports_names_two_different_messages(db: Database, clock: Clock) -> None:
    deliveries = Deliveries(db, clock)
    await _queued(db, clock, "via-a")
    await _queued(db, clock, "via-b")
    await deliveries.record(Delivered("via-a", "carrier", ("77",)))
    await deliveries.record(Delivered("via-b", "gsm", ("77",)))
    await deliveries.receipt("gsm", Receipt("77", "undelivered", "UNDELIV", "001"))
    await deliveries.receipt("carrier", Receipt("77", "delivered", "DELIVRD", "000"))
    assert (await _status(db, "via-a"))[0] == "delivered"
    assert (await _status(db, "via-b"))[0] == "undelivered"
    await deliveries.close()


async def test_a_message_recorded_twice_keeps_the_parts_of_its_latest_submission(db: Database, clock: Clock) -> None:
    deliveries = Deliveries(db, clock)
    await _queued(db, clock, "m1", segments=2)
    await deliveries.record(Delivered("m1", "carrier", ("a1", "a2")))
    await deliveries.record(Delivered("m1", "carrier", ("b1", "b2")))  # resent after its worker's lease ran out
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(message_parts.c.part, message_parts.c.carrier_id))).all()
    assert sorted((r.part, r.carrier_id) for r in rows) == [(0, "b1"), (1, "b2")]
    await deliveries.receipt("carrier", Receipt("b1", "delivered", "DELIVRD", "000"))
    await deliveries.receipt("carrier", Receipt("b2", "delivered", "DELIVRD", "000"))
    assert (await _status(db, "m1"))[0] == "delivered"
    await deliveries.close()
