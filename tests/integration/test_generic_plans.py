"""PostgreSQL keeps one plan for the set-wise statements of the hot paths instead of planning them at every call
(`store.one_of.planned_once`; issue 15, session 12: re-planning was about 15 % of PostgreSQL's CPU under load).

A statement whose arrays the planner can see the length of is planned afresh at each call while a custom plan looks
cheaper, which for a few values it always does. Each test runs one path seven times with one to three values on
one session, beside 20,000 other messages, then reads that session's prepared statements: the statement must
have used its generic plan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store import db, messages
from parley.store.db import Database
from parley.store.one_of import none_of, one_of
from parley.store.tables import jobs
from parley.store.tables import messages as messages_table
from parley.store.unnest import update_rows
from tests.conftest import _fresh
from tests.support.outbound import add_outbound

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
IDS = [f"m{i:03d}" for i in range(30)]
FILLER = 20_000  # other messages


@pytest.fixture
async def pg(pg_database: str) -> AsyncIterator[Database]:
    """Parley's PostgreSQL database with one connection: every transaction runs in the same session."""
    await (await _fresh(pg_database)).close()
    database = Database(pg_database, pool_size=1)
    try:
        await add_outbound(database, IDS, now=NOW)
        async with database.write() as conn:  # a table of some size: over a few rows every plan costs the same
            await conn.execute(_FILLER, {"now": NOW.replace(tzinfo=None), "n": FILLER})
        yield database
    finally:
        await database.close()


_FILLER = sa.text(
    "INSERT INTO messages (id, direction, sender, recipient, body, status, segments, encoding, source, created_at, "
    "updated_at) SELECT 'f' || lpad(i::text, 8, '0'), 'out', '+15550000000', '+1555' || lpad(i::text, 7, '0'), "
    "'Hello there', 'delivered', 1, 'gsm', 'wildix', :now, :now FROM generate_series(1, :n) AS i"
)


async def _set_status(conn: AsyncConnection, call: int) -> None:
    picked = IDS[call : call + 1 + call % 3]
    await messages.set_status(conn, [{"id": i, "status": "sent"} for i in picked], now=NOW)


async def _update_rows(conn: AsyncConnection, call: int) -> None:
    picked = IDS[call : call + 1 + call % 3]
    await update_rows(conn, messages_table, ("id",), [{"id": i, "bot": f"b{call}"} for i in picked])


async def _one_of(conn: AsyncConnection, call: int) -> None:
    picked = IDS[call : call + 1 + call % 3]
    query = sa.select(messages_table.c.id).where(one_of(conn, messages_table.c.id, picked))
    assert sorted((await conn.scalars(query)).all()) == picked


async def _none_of(conn: AsyncConnection, call: int) -> None:
    left_out = IDS[call : call + 1 + call % 3]
    query = sa.select(sa.func.count()).where(none_of(conn, messages_table.c.id, left_out))
    assert await conn.scalar(query) == FILLER + len(IDS) - len(left_out)


async def _delete_jobs(conn: AsyncConnection, call: int) -> None:
    await conn.execute(jobs.delete().where(one_of(conn, jobs.c.message_id, IDS[call : call + 2])))


@pytest.mark.parametrize(
    ("path", "marker"),
    [
        pytest.param(_set_status, "INSERT INTO message_events", id="status changes"),
        pytest.param(_update_rows, "UPDATE messages SET bot", id="update_rows"),
        pytest.param(_one_of, "= ANY", id="one_of"),
        pytest.param(_none_of, "!= ALL", id="none_of"),
        pytest.param(_delete_jobs, "DELETE FROM jobs", id="one_of in a DELETE"),
    ],
)
async def test_a_set_wise_statement_settles_on_its_generic_plan(
    pg: Database, path: Callable[[AsyncConnection, int], Awaitable[None]], marker: str
) -> None:
    for call in range(7):
        async with pg.write() as conn:
            await path(conn, call)
    async with pg.write() as conn:
        found = (
            await conn.execute(
                sa.text("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"),
            )
        ).all()
    plans = [(r.generic_plans, r.custom_plans) for r in found if marker in r.statement]
    assert len(plans) == 1, found
    generic, custom = plans[0]
    assert custom <= 5 and generic >= 2, (generic, custom)


async def _status_plan(database: Database) -> str:
    """The plan the status changes' prepared statement runs with now, on the session that prepared it."""
    async with database.write() as conn:
        found = (
            await conn.execute(
                sa.text(
                    "SELECT name, cardinality(parameter_types) AS n FROM pg_prepared_statements "
                    "WHERE statement LIKE '%INSERT INTO message_events%' "
                    "AND statement NOT LIKE '%pg_prepared_statements%'"
                )
            )
        ).one()
        nulls = ", ".join(["NULL"] * found.n)
        # The name is the server's own (asyncpg's), read above; it is not data from outside.
        plan = (await conn.execute(sa.text(f"EXPLAIN EXECUTE {found.name}({nulls})"))).scalars().all()
    return "\n".join(plan)


async def test_a_plan_made_on_a_nearly_empty_table_is_made_again_once_it_grew(
    pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an ANALYZE (autovacuum off) PostgreSQL would keep the first generic plan, a scan of the whole table;
    the connection's plans are dropped after `db.PLAN_SECONDS`, and made again for the table as it is."""
    await (await _fresh(pg_database)).close()
    database = Database(pg_database, pool_size=1)
    try:
        await add_outbound(database, IDS, now=NOW)
        for call in range(7):
            async with database.write() as conn:
                await _set_status(conn, call)
        assert "Seq Scan on messages" in await _status_plan(database)
        async with database.write() as conn:
            await conn.execute(_FILLER, {"now": NOW.replace(tzinfo=None), "n": FILLER})
        assert "Seq Scan on messages" in await _status_plan(database)  # kept while the connection's plans are young

        monkeypatch.setattr(db, "PLAN_SECONDS", 0.0)
        async with database.write() as conn:
            await _set_status(conn, 8)
        plan = await _status_plan(database)
        assert "Seq Scan on messages" not in plan and "Index Scan using pk_messages" in plan, plan
    finally:
        await database.close()
