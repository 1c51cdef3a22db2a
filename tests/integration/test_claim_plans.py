"""A claim reads only the rows it takes, even while the database's statistics say the queue is nearly empty.

A queue is empty most of the time, so that is what its table's statistics say when a burst comes. A claim's order
that the index did not hold whole then made PostgreSQL read every due row and sort them, on every claim, through
the burst (10,000 pending webhook deliveries: ~10 ms a claim instead of ~0.2 ms; migration 0018; the route claim's
jobs, migration 0019). Here the statistics are taken while a few rows are due, then a burst arrives, and the
claim's plan must walk its index in order with no sort (PostgreSQL: no Sort node; SQLite: no temporary B-tree for
the ORDER BY). The webhook sender's look at when the next delivery is due reads a few index entries, not every
pending delivery (`store.webhooks.next_due`, migration 0019).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store import queue
from parley.store import webhooks as webhook_store
from parley.store.db import Database
from parley.store.tables import jobs, messages, webhook_deliveries

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DONE, DUE, BURST = 2_000, 20, 5_000  # the statistics see the finished rows and a few due, not the burst


@contextmanager
def captured(db: Database) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    sa.event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def _deliveries(conn: AsyncConnection, start: int, count: int) -> None:
    rows = [
        {"event_id": f"evt_{i}", "event_type": "message.status", "subject": f"m{i}", "url": "https://example.com/",
         "format": "parley", "body": "{}", "state": "delivered" if i < DONE else "pending", "attempts": 0,
         "due_at": NOW - timedelta(seconds=i), "created_at": NOW}
        for i in range(start, start + count)
    ]  # fmt: skip
    await conn.execute(webhook_deliveries.insert(), rows)


async def _claim_deliveries(conn: AsyncConnection) -> object:
    return await webhook_store.claim(conn, now=NOW, lease=timedelta(seconds=30), limit=64)


async def _route_jobs(conn: AsyncConnection, start: int, count: int) -> None:
    """Inbound messages, ten to a group commit (they share a due time), ids in arrival order; those before ``DONE``
    were routed (their jobs are gone)."""
    arrived = {
        f"{i:020x}": NOW - timedelta(seconds=(DONE + DUE + BURST - i) // 10) for i in range(start, start + count)
    }
    rows = [
        {"id": mid, "direction": "in", "sender": "+15557654321", "recipient": "+15551230001", "body": "hi",
         "status": "received", "segments": 1, "encoding": "gsm7", "source": "test", "created_at": at,
         "updated_at": NOW}
        for mid, at in arrived.items()
    ]  # fmt: skip
    await conn.execute(messages.insert(), rows)
    due = [{"message_id": mid, "kind": "route", "due_at": at, "attempts": 0} for mid, at in arrived.items()]
    await conn.execute(jobs.insert(), due[max(0, DONE - start) :])


async def _claim_route_jobs(conn: AsyncConnection) -> object:
    return await queue.claim(conn, now=NOW, lease=timedelta(seconds=30), limit=200, worker="w", kind="route")


Fill = Callable[[AsyncConnection, int, int], Awaitable[None]]
Claim = Callable[[AsyncConnection], Awaitable[object]]


@pytest.mark.parametrize(
    ("fill", "claim", "table"),
    [
        pytest.param(_deliveries, _claim_deliveries, "webhook_deliveries", id="webhook-deliveries"),
        pytest.param(_route_jobs, _claim_route_jobs, "jobs", id="route-jobs"),
    ],
)
async def test_a_claim_walks_its_index_in_order_whatever_the_statistics_say(
    db: Database, fill: Fill, claim: Claim, table: str
) -> None:
    async with db.write() as conn:
        await fill(conn, 0, DONE + DUE)
    async with db.write() as conn:
        await conn.execute(sa.text(f"ANALYZE {table}"))
    async with db.write() as conn:
        await fill(conn, DONE + DUE, BURST)
    with captured(db) as seen:
        async with db.write() as conn:
            await claim(conn)
    statement, parameters = next((s, p) for s, p in seen if s.lstrip().upper().startswith("UPDATE"))
    async with db.read() as conn:
        if conn.dialect.name == "postgresql":
            found = await conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
            plan = json.dumps(found.scalar_one())
            assert '"Sort' not in plan and '"Incremental Sort' not in plan, plan
            assert f"ix_{table}_" in plan, plan
        else:
            found = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            details = [str(row[-1]) for row in found.all()]
            assert not any("TEMP B-TREE" in d for d in details), details


async def test_the_next_due_delivery_is_found_in_a_few_index_entries_whatever_the_backlog(db: Database) -> None:
    async with db.write() as conn:
        await _deliveries(conn, 0, DONE + DUE)
    async with db.write() as conn:
        await conn.execute(sa.text("ANALYZE webhook_deliveries"))
    async with db.write() as conn:
        await _deliveries(conn, DONE + DUE, BURST)
        await _claim_deliveries(conn)  # the oldest 64 are in flight: leased
    with captured(db) as seen:
        async with db.read() as conn:
            due = await webhook_store.next_due(conn)
    oldest_unleased = DONE + DUE + BURST - 1 - 64  # the claim leased the 64 oldest (the first the index walk meets)
    assert due == NOW - timedelta(seconds=oldest_unleased)
    [(statement, parameters)] = [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT")]
    async with db.read() as conn:
        if conn.dialect.name == "postgresql":
            found = await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters)
            plan = found.scalar_one()
            assert _rows_read(plan[0]["Plan"]) <= 100, json.dumps(plan)
            return
    # SQLite: count the virtual machine's steps on a connection of our own (each row read costs several).
    steps = 0

    def step() -> int:
        nonlocal steps
        steps += 1
        return 0

    reader = sqlite3.connect(db.url.removeprefix("sqlite+aiosqlite:///"))
    try:
        reader.set_progress_handler(step, 10)
        reader.execute(statement, parameters).fetchall()
    finally:
        reader.close()
    assert steps * 10 < BURST, steps


def _rows_read(node: dict[str, Any]) -> int:
    """The rows a plan's scans read: those they returned and those their filters dropped, on every loop."""
    read = 0
    if "Scan" in node["Node Type"]:
        kept = (
            node["Actual Rows"] + node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
        )
        read = kept * node["Actual Loops"]
    return read + sum(_rows_read(child) for child in node.get("Plans", []))
