"""`store.webhooks.next_due` tells when the next pending delivery can be claimed: its due time, or the end of its lease
when that is later; deliveries that are not pending do not count, and with none pending there is no answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from parley.store import webhooks as webhook_store
from parley.store.db import Database
from parley.store.tables import webhook_deliveries

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

Row = tuple[str, int, int | None]  # state, due (seconds from NOW), lease end (seconds from NOW) or None


def _at(seconds: int | None) -> datetime | None:
    return None if seconds is None else NOW + timedelta(seconds=seconds)


CASES = [
    pytest.param([], None, id="nothing-at-all"),
    pytest.param([("delivered", -60, None), ("failed", -30, None)], None, id="nothing-pending"),
    pytest.param([("pending", 30, None), ("pending", 10, None)], 10, id="the-earliest-due"),
    pytest.param([("pending", -5, 20)], 20, id="leased-until-after-its-due-time"),
    pytest.param([("pending", 40, 20)], 40, id="a-lease-that-ends-before-its-due-time"),
    pytest.param([("pending", -5, 20), ("pending", 15, None)], 15, id="an-unleased-one-due-before-a-lease-ends"),
    pytest.param([("pending", -5, 20), ("pending", 25, None)], 20, id="a-lease-that-ends-first"),
    pytest.param([("pending", -5, -2), ("pending", 5, None)], -2, id="a-lease-run-out"),
    pytest.param([("delivered", -60, None), ("pending", 50, None)], 50, id="only-pending-ones-count"),
]


@pytest.mark.parametrize(("rows", "expected"), CASES)
async def test_next_due_is_when_the_next_pending_delivery_can_be_claimed(
    db: Database, rows: list[Row], expected: int | None
) -> None:
    if rows:
        async with db.write() as conn:
            await conn.execute(
                webhook_deliveries.insert(),
                [{"event_id": f"evt_{i}", "event_type": "message.status", "url": "https://example.com/",
                  "format": "parley", "body": "{}", "state": state, "attempts": 0, "due_at": _at(due),
                  "lease_until": _at(lease), "created_at": NOW - timedelta(minutes=5)}
                 for i, (state, due, lease) in enumerate(rows)],
            )  # fmt: skip
    async with db.read() as conn:
        assert await webhook_store.next_due(conn) == _at(expected)
