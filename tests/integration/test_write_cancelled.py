"""A write transaction cancelled in the middle of a statement ends in CancelledError, as any cancelled await.

It ended in SQLAlchemy's PendingRollbackError (cleaning up the transaction's change notes touched the cancelled
connection), an ordinary exception that worker loops log and carry on after: a task told to stop at shut-down
went on running, and `parley serve` did not stop on SIGTERM until it was killed (seen in the suite as 15 s stops).
"""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from parley.store.db import Database

# A few seconds of work (SQLite's statement runs on in aiosqlite's thread after the cancel, until it ends).
SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 6000000) "
    "SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(3)",
}


async def _nothing(_conn: object, _notes: object) -> None:
    return None


async def test_a_write_cancelled_mid_statement_ends_in_cancelled_error(db: Database) -> None:
    db.before_commit(_nothing)  # the path with change notes, which every Parley database takes
    started = asyncio.Event()

    async def slow_write() -> None:
        async with db.write() as conn:
            started.set()
            await conn.execute(sa.text(SLOW[conn.dialect.name]))

    task = asyncio.create_task(slow_write())
    await started.wait()
    await asyncio.sleep(0.2)  # into the statement: nothing to wait on there, the point is to interrupt it
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=20)
    if db.is_postgres:  # the server ended the statement: the pool serves the next transaction at once
        async with db.write() as conn:
            assert (await conn.execute(sa.text("SELECT 1"))).scalar_one() == 1
    # SQLite: the cancelled connection keeps its write lock until it is collected (aiosqlite's thread ran on; the
    # process is stopping when this happens in Parley). Not checked here; noted for the next session.
