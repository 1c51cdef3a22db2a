"""A receipt batch also applies the older receipts that waited for the same carrier id, oldest first (issue 15: on
PostgreSQL they are read in the statement that stores the batch)."""

from __future__ import annotations

import sqlalchemy as sa

from parley.channels.base import Receipt
from parley.services.delivery import Deliveries
from parley.store import receipts as receipts_store
from parley.store.db import Database
from parley.store.tables import message_parts, receipts
from tests.conftest import Clock
from tests.support.outbound import add_outbound


async def test_a_waiting_receipt_is_applied_before_a_newer_one_for_the_same_carrier_id(
    db: Database, clock: Clock
) -> None:
    deliveries = Deliveries(db, clock)
    await add_outbound(db, ["m1"], now=clock(), status="sending")
    await deliveries.receipt("carrier", Receipt("c-1", "undelivered", "UNDELIV", "001"))  # before its part: waits
    async with db.write() as conn:  # the part appears without the matching step (as when the two raced)
        part = {"transport": "carrier", "carrier_id": "c-1", "message_id": "m1", "part": 0}
        await receipts_store.add_parts(conn, [part], now=clock())
    clock.advance(seconds=1)
    await deliveries.receipt("carrier", Receipt("c-1", "delivered", "DELIVRD", "000"))
    async with db.read() as conn:
        state = await conn.scalar(sa.select(message_parts.c.state).where(message_parts.c.message_id == "m1"))
        waiting = (await conn.execute(sa.select(receipts.c.stat).where(receipts.c.applied_at.is_(None)))).all()
    # The older receipt gave the part its final state; the newer one finds no part still waiting and waits itself.
    assert state == "undelivered"
    assert [w.stat for w in waiting] == ["DELIVRD"]
    await deliveries.close()
