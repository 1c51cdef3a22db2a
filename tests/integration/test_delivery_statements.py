"""Recording outcomes and receipts costs a fixed number of statements per group commit, whatever its size (issue 15:
receipts trickle in a few at a time, so the per-transaction cost is what a receipt costs)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from parley.channels.base import Receipt
from parley.services.delivery import Delivered, Deliveries
from parley.services.webhook_outbox import EndpointCache, WebhookOutbox
from parley.store import messages
from parley.store import webhooks as webhook_store
from parley.store.db import Database
from parley.store.tables import message_events, message_parts, webhook_deliveries
from parley.store.tables import messages as messages_table
from tests.conftest import Clock
from tests.support.outbound import add_outbound
from tests.support.provisioning import provision


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The statements run meanwhile (not the BEGIN SQLite's write transactions emit themselves)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.startswith("BEGIN"):
            seen.append(statement)

    sa.event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine.sync_engine, "before_cursor_execute", record)


def _render(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "status": row["status"]}


@pytest.fixture(params=["plain", "endpoint"])
async def deliveries(request: pytest.FixtureRequest, db: Database, clock: Clock) -> AsyncIterator[Deliveries]:
    """Deliveries with the outbound-webhook hook, with or without an endpoint that wants message.status."""
    await provision(db, clock())
    db.before_commit(WebhookOutbox(clock, _render, EndpointCache(ttl=3600)).write)  # read once, by the warm-up
    if request.param == "endpoint":
        async with db.write() as conn:
            endpoint = {"id": "whe_1", "owner_id": 1, "url": "https://example.com/", "events": ["message.status"],
                        "secret_sealed": "x", "enabled": True, "created_at": clock(),
                        "updated_at": clock()}  # fmt: skip
            await webhook_store.add_endpoint(conn, endpoint)
    found = Deliveries(db, clock)
    try:
        yield found
    finally:
        await found.close()


async def _sent(db: Database, clock: Clock, deliveries: Deliveries, prefix: str, n: int) -> list[str]:
    ids = await add_outbound(db, [f"{prefix}{i}" for i in range(n)], now=clock(), status="sending")
    await asyncio.gather(*(deliveries.record(Delivered(m, "carrier", (f"c-{m}",))) for m in ids))
    return ids


async def _delivered(deliveries: Deliveries, ids: list[str]) -> None:
    await asyncio.gather(
        *(deliveries.receipt("carrier", Receipt(f"c-{m}", "delivered", "DELIVRD", "000")) for m in ids)
    )


def _show(case: str, found: list[str]) -> None:
    if os.environ.get("PARLEY_SHOW_STATEMENTS"):
        print(f"\n{case}: {len(found)}")
        for s in found:
            print("   ", " ".join(s.split())[:120])


async def _warm(db: Database, clock: Clock, deliveries: Deliveries) -> None:
    """A first round reads the endpoints (cached afterwards): the steady state is what follows."""
    await _delivered(deliveries, await _sent(db, clock, deliveries, "w", 1))


@pytest.mark.parametrize("n", [1, 10])
async def test_outcomes_are_recorded_in_a_fixed_number_of_statements(
    db: Database, clock: Clock, deliveries: Deliveries, n: int, request: pytest.FixtureRequest
) -> None:
    await _warm(db, clock, deliveries)
    ids = await add_outbound(db, [f"m{i}" for i in range(n)], now=clock(), status="sending")
    with statements(db) as found:
        await asyncio.gather(*(deliveries.record(Delivered(m, "carrier", (f"c-{m}",))) for m in ids))
    _show(request.node.callspec.id, found)
    async with db.read() as conn:
        statuses = (await conn.execute(sa.select(messages_table.c.status).where(messages_table.c.id.in_(ids)))).all()
        parts = await conn.scalar(sa.select(sa.func.count()).where(message_parts.c.message_id.in_(ids)))
    assert [s for (s,) in statuses] == ["sent"] * n
    assert parts == n
    assert len(found) == _OUTCOMES[db.engine.dialect.name][request.node.callspec.params["deliveries"]]


@pytest.mark.parametrize("n", [1, 10])
async def test_receipts_are_recorded_in_a_fixed_number_of_statements(
    db: Database, clock: Clock, deliveries: Deliveries, n: int, request: pytest.FixtureRequest
) -> None:
    await _warm(db, clock, deliveries)
    ids = await _sent(db, clock, deliveries, "m", n)
    with statements(db) as found:
        await _delivered(deliveries, ids)
    _show(request.node.callspec.id, found)
    async with db.read() as conn:
        statuses = (await conn.execute(sa.select(messages_table.c.status).where(messages_table.c.id.in_(ids)))).all()
        events = await conn.scalar(
            sa.select(sa.func.count()).where(
                message_events.c.message_id.in_(ids), message_events.c.status == "delivered"
            )
        )
        hooks = await conn.scalar(sa.select(sa.func.count()).select_from(webhook_deliveries))
    assert [s for (s,) in statuses] == ["delivered"] * n
    assert events == n
    endpoint = request.node.callspec.params["deliveries"] == "endpoint"
    assert hooks == (3 + 3 * n if endpoint else 0)  # sending (created), sent, delivered: the warm-up's and each's
    assert len(found) == _RECEIPTS[db.engine.dialect.name][request.node.callspec.params["deliveries"]]


async def test_a_status_change_keeps_what_it_leaves_out_and_sets_what_it_gives(db: Database, clock: Clock) -> None:
    ids = await add_outbound(db, ["m1", "m2", "m3"], now=clock(), status="sending")
    async with db.write() as conn:
        await messages.set_status(conn, [{"id": m, "status": "sent", "transport": "smsc", "error": None,
                                          "error_code": "7"} for m in ids], now=clock())  # fmt: skip
    async with db.write() as conn:  # one statement on PostgreSQL for the three shapes
        await messages.set_status(conn, [
            {"id": "m1", "status": "delivered", "detail": "stat=DELIVRD"},
            {"id": "m2", "status": "undelivered", "error": "carrier reported", "error_code": "001"},
            {"id": "m3", "status": "delivered", "delivery_assumed": True, "error_code": None},
        ], now=clock())  # fmt: skip
    async with db.read() as conn:
        rows = await messages.get_many(conn, ids)
    assert {m: (r.status, r.transport, r.error, r.error_code, r.delivery_assumed) for m, r in rows.items()} == {
        "m1": ("delivered", "smsc", None, "7", False),
        "m2": ("undelivered", "smsc", "carrier reported", "001", False),
        "m3": ("delivered", "smsc", None, None, True),
    }


# Statements per group commit, whatever the number of outcomes or receipts in it. PostgreSQL: the status UPDATE
# with its events' INSERT, the jobs' DELETE, the parts' INSERT with the read of receipts waiting for them; a receipt
# batch's INSERT with the read of the receipts and parts it concerns, the parts' and receipts' UPDATE with the read
# of the messages, the status UPDATE with its events. The endpoint adds the outbox hook's read and INSERT.
_OUTCOMES = {"postgresql": {"plain": 3, "endpoint": 5}, "sqlite": {"plain": 6, "endpoint": 8}}
_RECEIPTS = {"postgresql": {"plain": 3, "endpoint": 5}, "sqlite": {"plain": 8, "endpoint": 10}}
