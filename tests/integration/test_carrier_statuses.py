"""HTTP carriers' statuses (issue 11 §2): queued at the carrier is "sending", callbacks move the message forward
and never back, the provider's error code is kept, and "recipient replied STOP" opts the number out."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from parley.channels.base import Receipt
from parley.services.delivery import Delivered, Deliveries, Failed
from parley.store.db import Database
from parley.store.tables import message_events, messages, optouts
from tests.conftest import Clock
from tests.support.outbound import add_outbound


async def _state(db: Database, mid: str) -> tuple[str, str | None]:
    async with db.read() as conn:
        row = (
            await conn.execute(sa.select(messages.c.status, messages.c.error_code).where(messages.c.id == mid))
        ).one()
    return row.status, row.error_code


async def _history(db: Database, mid: str) -> list[str]:
    async with db.read() as conn:
        query = (
            sa.select(message_events.c.status).where(message_events.c.message_id == mid).order_by(message_events.c.id)
        )
        return [r.status for r in (await conn.execute(query)).all()]


async def test_callbacks_take_a_queued_message_through_sent_to_delivered(db: Database, clock: Clock) -> None:
    deliveries = Deliveries(db, clock)
    await add_outbound(db, ["m1"], now=clock(), status="sending")
    await deliveries.record(Delivered("m1", "twilio", ("SM1",), status="sending"))
    assert await _state(db, "m1") == ("sending", None)
    await deliveries.receipt("twilio", Receipt("SM1", "sending", "queued"))
    assert await _state(db, "m1") == ("sending", None)
    await deliveries.receipt("twilio", Receipt("SM1", "sent", "sent"))
    assert await _state(db, "m1") == ("sent", None)
    await deliveries.receipt("twilio", Receipt("SM1", "delivered", "delivered"))
    assert await _state(db, "m1") == ("delivered", None)
    assert await _history(db, "m1") == ["sending", "sent", "delivered"]
    await deliveries.close()


async def test_a_late_sent_never_overwrites_delivered(db: Database, clock: Clock) -> None:
    deliveries = Deliveries(db, clock)
    await add_outbound(db, ["m1"], now=clock(), status="sending")
    await deliveries.record(Delivered("m1", "twilio", ("SM1",), status="sending"))
    await deliveries.receipt("twilio", Receipt("SM1", "delivered", "delivered"))
    await deliveries.receipt("twilio", Receipt("SM1", "sent", "sent"))
    await deliveries.receipt("twilio", Receipt("SM1", "sending", "sending"))
    clock.advance(minutes=5)  # the stale receipts waited out the race for a newer part, then were discarded
    await deliveries.sweep(window=timedelta(hours=1))
    assert await _state(db, "m1") == ("delivered", None)
    await deliveries.close()


async def test_an_undelivered_callback_keeps_the_provider_error_code(db: Database, clock: Clock) -> None:
    deliveries = Deliveries(db, clock)
    await add_outbound(db, ["m1"], now=clock(), status="sending")
    await deliveries.record(Delivered("m1", "telnyx", ("uuid-1",), status="sending"))
    await deliveries.receipt("telnyx", Receipt("uuid-1", "undelivered", "delivery_failed", "40008"))
    assert await _state(db, "m1") == ("undelivered", "40008")
    await deliveries.receipt("telnyx", Receipt("uuid-1", "delivered", "delivered"))
    assert await _state(db, "m1") == ("undelivered", "40008")
    await deliveries.close()


async def test_a_rest_refusal_with_code_21610_fails_the_message_and_opts_the_number_out(
    db: Database, clock: Clock
) -> None:
    deliveries = Deliveries(db, clock)
    await add_outbound(db, ["m1", "m2"], now=clock(), status="sending")
    await deliveries.record(Failed("m1", "twilio", "Twilio 21610: recipient replied STOP", code="21610"))
    await deliveries.record(Failed("m2", "twilio", "Twilio 21211: invalid To", code="21211"))
    assert await _state(db, "m1") == ("failed", "21610")
    assert await _state(db, "m2") == ("failed", "21211")
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(optouts))).all()
    assert [(r.company_number, r.external_number, r.opted_out) for r in rows] == [
        ("+15551230001", "+15551234567", True)
    ]
    await deliveries.close()


async def test_a_failed_callback_with_21610_opts_the_number_out(db: Database, clock: Clock) -> None:
    deliveries = Deliveries(db, clock)
    await add_outbound(db, ["m1"], now=clock(), status="sending")
    await deliveries.record(Delivered("m1", "twilio", ("SM9",), status="sending"))
    await deliveries.receipt("twilio", Receipt("SM9", "failed", "failed", "21610"))
    assert await _state(db, "m1") == ("failed", "21610")
    async with db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(optouts).where(optouts.c.opted_out)) == 1
    await deliveries.close()
