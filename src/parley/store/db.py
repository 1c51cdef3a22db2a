"""The database engine: SQLite (embedded default, WAL) or PostgreSQL (scale-out), one API for both.

``Database.write()`` opens a write transaction, ``Database.read()`` a read one. On SQLite a write
transaction starts with ``BEGIN IMMEDIATE`` so that two writers queue on the busy timeout instead of
failing with "database is locked" when a deferred read lock cannot be upgraded.

A transaction that ends well leaves its connection to the next one (up to a few kept each way, for at most
`PLAN_SECONDS`): taking a connection from SQLAlchemy's pool and handing it back cost ~200 µs of CPU, about a
third of a one-statement transaction, on every group commit, claim and receipt (issue 15). A transaction that
fails, or is cancelled, hands its connection back to the pool as before, which resets it (or drops it if broken).

**Plans that follow the tables.** PostgreSQL keeps a prepared statement's generic plan until something invalidates
it, usually the ANALYZE autovacuum runs as a table grows. The hot statements bind their values as arrays it plans
once (`store.one_of`); a plan made while a table was nearly empty scans it whole, and on a server with autovacuum
off it would be kept as the table grows. So a connection's cached plans are dropped (``DISCARD PLANS``; its
prepared statements stay) when the pool hands it out at least `PLAN_SECONDS` after the last time, and a kept
connection goes back to the pool after as long: each statement is planned again then, for the tables as they are.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util.concurrency import await_

from parley.store import change_notes

_WRITE = "parley_write"
KEEP = 8  # connections kept for the next transactions, each way (write, read), at most a quarter of the pool
# A PostgreSQL connection's cached plans are dropped as often, and kept connections go back to the pool as often.
PLAN_SECONDS = 10.0
# A hook returns what it wrote (anything falsy: nothing); ``after`` gets it once the transaction committed.
BeforeCommit = Callable[[AsyncConnection, change_notes.Notes], Awaitable[Any]]
AfterCommit = Callable[[Any], None]


def _prepare_sqlite_path(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def create_engine(url: str, *, pool_size: int = 30) -> AsyncEngine:
    if url.startswith("sqlite"):
        _prepare_sqlite_path(url)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    # No pre-ping (a round trip per checkout): a connection the server dropped fails once, SQLAlchemy
    # invalidates the pool, and the work is retried by the caller (queue leases, group-commit waiters).
    # A pool that keeps most of what it needs: connections above ``pool_size`` are closed when handed back, and
    # with a small pool and twice as many overflow ones (as before), 1,000 requests a second opened and closed
    # connections all along (140 backends in 60 s, CPU on both sides; issue 15). Above the overflow, a
    # request waits for a connection: back-pressure instead of more backends.
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=max(2, pool_size // 3), pool_recycle=1800)
    _configure_postgres(engine)
    return engine


def _configure_postgres(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["plans_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        now = time.monotonic()
        if now - record.info.get("plans_since", now) >= PLAN_SECONDS:
            try:
                await_(dbapi_connection.driver_connection.execute("DISCARD PLANS"))
            except Exception as exc:  # the server ended the session (a restart, say): the pool connects again
                raise DisconnectionError(f"the connection was lost: {exc!r}") from exc
            record.info["plans_since"] = now


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the driver so that we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before the API answers (survives kill -9 and power loss).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """Owns the engine; hands out transactions."""

    def __init__(self, url: str, *, pool_size: int = 30) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._writer = self.engine.execution_options(**{_WRITE: True})
        # PostgreSQL reads run without a transaction of their own: at READ COMMITTED (the default, and Parley's) each
        # statement sees its own snapshot either way, so BEGIN and ROLLBACK were two round trips for nothing (a
        # one-statement read: 461 → 268 µs of CPU here). SQLite keeps its read transaction (one snapshot in WAL).
        self._reader = self.engine.execution_options(isolation_level="AUTOCOMMIT") if self.is_postgres else self.engine
        self._hooks: list[tuple[BeforeCommit, AfterCommit | None]] = []
        self._keep = max(1, min(KEEP, pool_size // 4))
        self._kept_writers: list[tuple[AsyncConnection, float]] = []  # (connection, when it was taken from the pool)
        self._kept_readers: list[tuple[AsyncConnection, float]] = []

    def before_commit(self, hook: BeforeCommit, *, after: AfterCommit | None = None) -> None:
        """Run ``hook`` at the end of every write transaction that noted changes (`store.change_notes`), inside
        it: what the hook writes commits with the change, or not at all (outbound webhooks' deliveries). When it
        wrote something (it returns a truthy value: what it wrote), ``after`` is called with that value once the
        transaction committed."""
        self._hooks.append((hook, after))

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: committed when the block ends, rolled back on an exception."""
        conn, taken = await self._take(self._kept_writers, self._writer)
        wrote: list[tuple[AfterCommit, Any]] = []
        try:
            async with conn.begin():
                if not self._hooks:
                    yield conn
                else:
                    change_notes.begin(conn)
                    try:
                        yield conn
                        notes = change_notes.take(conn)
                        if notes:
                            for hook, after in self._hooks:
                                written = await hook(conn, notes)
                                if written and after is not None:
                                    wrote.append((after, written))
                    finally:
                        # Dropped even when the block failed; but a connection whose statement was cancelled
                        # refuses even this (PendingRollbackError), which would replace the CancelledError and keep
                        # a stopping task alive in a loop that goes on after errors. The rollback resets it anyway.
                        with suppress(PendingRollbackError):
                            change_notes.take(conn)
        except BaseException as exc:
            await self._return(conn, exc)
            raise
        await self._keep_or_return(self._kept_writers, conn, taken)
        for after, written in wrote:
            after(written)

    @asynccontextmanager
    async def schema_change(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction that changes the schema (migrations), on a connection of its own.

        On SQLite foreign keys are off while it runs: Alembic's batch mode rebuilds a table (copy, drop, rename), and
        dropping a table with foreign keys on first deletes its rows, cascading to every row that refers to them
        (a downgrade of migration 0016 lost every webhook attempt). Before it commits, ``PRAGMA foreign_key_check``
        must find no row pointing nowhere. The connection is dropped after, not handed back with foreign keys off."""
        if self.is_postgres:
            async with self.write() as conn:
                yield conn
            return
        async with self._writer.connect() as conn:
            try:
                driver = (await conn.get_raw_connection()).driver_connection
                if driver is None:
                    raise RuntimeError("no connection to the database for the schema change")
                # On the driver's connection: before SQLAlchemy's BEGIN, since inside a transaction it is ignored.
                await driver.execute("PRAGMA foreign_keys=OFF")
                async with conn.begin():
                    yield conn
                    dangling = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if dangling:
                        raise RuntimeError(f"the schema change leaves rows pointing nowhere: {dangling[:5]}")
            finally:
                await conn.invalidate()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        conn, taken = await self._take(self._kept_readers, self._reader)
        try:
            yield conn
            if not self.is_postgres:  # PostgreSQL's reads are autocommitted: nothing to end
                await conn.rollback()
        except BaseException as exc:
            await self._return(conn, exc)
            raise
        await self._keep_or_return(self._kept_readers, conn, taken)

    async def _take(
        self, kept: list[tuple[AsyncConnection, float]], engine: AsyncEngine
    ) -> tuple[AsyncConnection, float]:
        """A kept connection, or one from the pool."""
        if kept:
            return kept.pop()
        return await engine.connect(), time.monotonic()

    async def _keep_or_return(
        self, kept: list[tuple[AsyncConnection, float]], conn: AsyncConnection, taken: float
    ) -> None:
        if len(kept) < self._keep and time.monotonic() - taken < PLAN_SECONDS and not conn.closed:
            kept.append((conn, taken))
        else:
            await conn.close()

    async def _return(self, conn: AsyncConnection, exc: BaseException) -> None:
        """Hand a failed transaction's connection back to the pool (which resets it). When it was lost (the server
        restarted, or ended the session), the kept ones most likely are too: they go back with it, so that one
        transaction fails, not one per kept connection (the pool replaces what it hands out after a disconnect)."""
        with suppress(Exception):  # the transaction's own exception is the one to raise
            await conn.close()
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            await self._drop_kept()

    async def _drop_kept(self) -> None:
        kept = self._kept_writers + self._kept_readers
        self._kept_writers, self._kept_readers = [], []
        for conn, _ in kept:
            with suppress(Exception):
                await conn.close()

    async def close(self) -> None:
        await self._drop_kept()
        await self.engine.dispose()


def worker_name() -> str:
    return f"{os.uname().nodename}:{os.getpid()}"
