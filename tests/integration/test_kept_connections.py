"""`Database` keeps the connections of transactions that ended well for the next ones, and gives back the others.

Taking a connection from SQLAlchemy's pool and handing it back was a third of a one-statement transaction's CPU
(issue 15). What must hold: the next transaction gets a kept connection (the same session); a failed or cancelled
transaction's connection goes back to the pool, reset; and when the server has ended the sessions (a restart), one
transaction fails, not one per kept connection.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from parley.store import db as db_module
from parley.store.db import Database


async def _session(db: Database, *, write: bool = True) -> object:
    """The server's id of the session a transaction runs in."""
    query = "SELECT pg_backend_pid()" if db.is_postgres else "SELECT 1"
    if write:
        async with db.write() as conn:
            return await conn.scalar(sa.text(query))
    async with db.read() as conn:
        return await conn.scalar(sa.text(query))


async def _many_at_once(db: Database, count: int) -> None:
    """``count`` write transactions at the same time (each on a connection of its own), all ending well."""
    started = asyncio.Event()
    inside = 0

    async def one() -> None:
        nonlocal inside
        async with db.write() as conn:
            await conn.execute(sa.text("SELECT 1"))
            inside += 1
            if inside == count:
                started.set()
            await asyncio.wait_for(started.wait(), 10)

    await asyncio.gather(*(one() for _ in range(count)))


@pytest.mark.postgres
async def test_the_next_transaction_runs_on_the_connection_the_last_one_left(db: Database) -> None:
    if not db.is_postgres:
        pytest.skip("the session id is PostgreSQL's")
    await _many_at_once(db, 3)  # three connections open: the pool would hand them out in turn
    first = await _session(db)
    assert await _session(db) == first
    assert await _session(db, write=False) == await _session(db, write=False)


async def test_a_failed_transaction_leaves_nothing_behind_for_the_next(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute(sa.text("CREATE TABLE kept_failed (n INTEGER PRIMARY KEY)"))
    with pytest.raises(RuntimeError):
        async with db.write() as conn:
            await conn.execute(sa.text("INSERT INTO kept_failed (n) VALUES (1)"))
            raise RuntimeError("the caller gives up")
    async with db.write() as conn:
        await conn.execute(sa.text("INSERT INTO kept_failed (n) VALUES (2)"))
    async with db.write() as conn:
        assert (await conn.execute(sa.text("SELECT n FROM kept_failed"))).scalars().all() == [2]
        await conn.execute(sa.text("DROP TABLE kept_failed"))


async def test_a_cancelled_transaction_is_rolled_back_and_the_next_one_works(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute(sa.text("CREATE TABLE kept_cancel (n INTEGER PRIMARY KEY)"))
    holding = asyncio.Event()

    async def stuck() -> None:
        async with db.write() as conn:
            await conn.execute(sa.text("INSERT INTO kept_cancel (n) VALUES (1)"))
            holding.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(stuck())
    await asyncio.wait_for(holding.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with db.write() as conn:
        await conn.execute(sa.text("INSERT INTO kept_cancel (n) VALUES (2)"))
    async with db.write() as conn:
        assert (await conn.execute(sa.text("SELECT n FROM kept_cancel"))).scalars().all() == [2]
        await conn.execute(sa.text("DROP TABLE kept_cancel"))


async def _end_every_session(db: Database) -> int:
    """End every session of the test's database, as a server restart would; returns how many."""
    name = make_url(db.url).database
    admin = await asyncpg.connect(make_url(db.url).set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False))  # fmt: skip
    try:
        return int(
            await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1", name
            )
        )
    finally:
        await admin.close()


@pytest.mark.postgres
async def test_after_the_server_ends_every_session_one_transaction_fails_not_one_per_kept_connection(
    db: Database,
) -> None:
    if not db.is_postgres:
        pytest.skip("ending sessions is PostgreSQL's")
    await _many_at_once(db, 4)  # four connections kept
    assert await _end_every_session(db) >= 4
    failures = 0
    for _ in range(6):
        try:
            await _session(db)
        except sa.exc.DBAPIError:
            failures += 1
    assert failures <= 1
    await _session(db)  # and it works again


@pytest.mark.postgres
async def test_a_connection_lost_when_its_plans_are_dropped_is_replaced_on_the_spot(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool drops a connection's cached plans as it hands it out (`store.db.PLAN_SECONDS`); a connection the
    server ended fails there, and the pool connects again instead of failing the transaction (or every later one)."""
    if not db.is_postgres:
        pytest.skip("ending sessions is PostgreSQL's")
    monkeypatch.setattr(db_module, "PLAN_SECONDS", 0.0)  # every hand-out drops the plans; nothing is kept
    await _many_at_once(db, 4)
    async with db.read() as conn:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        before = set((await conn.execute(sa.text(query))).scalars().all())
    assert await _end_every_session(db) >= 4
    after = [await _session(db) for _ in range(6)]  # none fails
    assert not before & set(after)


@pytest.mark.postgres
async def test_a_read_on_postgresql_holds_no_transaction_open(db: Database) -> None:
    """Reads are autocommitted (READ COMMITTED gives each statement its own snapshot anyway): a read block that
    waits between statements leaves its session idle, not idle in a transaction holding back VACUUM."""
    if not db.is_postgres:
        pytest.skip("PostgreSQL's sessions")
    async with db.read() as conn:
        pid = await conn.scalar(sa.text("SELECT pg_backend_pid()"))
        async with db.write() as other:
            state = await other.scalar(sa.text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})
    assert state == "idle"
