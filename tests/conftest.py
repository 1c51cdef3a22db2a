"""Shared fixtures: databases on SQLite and PostgreSQL, a fixed clock, users."""

from __future__ import annotations

import gc
import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa

from parley.logs import configure_structlog
from parley.store.db import Database
from parley.store.tables import metadata
from tests.support.schema import migrated

# Passwords are hashed with argon2id at a test cost (1 pass over 1 MiB instead of 3 over 64 MiB): the suite
# hashes and verifies thousands of passwords, and every `parley serve` it starts inherits this environment. The
# production cost is the default (parley/settings.py); nothing here tests how long hashing takes.
os.environ.setdefault("PARLEY_ARGON2_TIME_COST", "1")
os.environ.setdefault("PARLEY_ARGON2_MEMORY_KIB", "1024")

# Parley in the test processes logs as `parley serve` does: structlog's default renders each traceback with rich,
# frame by frame with their variables (about a tenth of a second of CPU apiece), and the failure tests log many.
configure_structlog(logging.DEBUG)

PG_ADMIN_URL = os.environ.get("PARLEY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

# The console tests each run a `parley serve`, an SMSC and a Chromium: four of them at once on a two-core machine
# starve each other past the browser's timeouts. With `make test`'s `--dist loadgroup`, their files go into two
# groups, each run by one pytest-xdist worker, so at most two browsers run at a time while the other workers take
# the rest of the suite.
BROWSER_GROUPS = 2


# tryfirst: pytest-xdist's worker reads the groups in a hook of its own, registered after this file is loaded and
# so called before this hook unless told otherwise (the console files then ran on every worker at once).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    web = Path(__file__).parent / "web"
    files = sorted({item.path for item in items if item.path.is_relative_to(web)})
    group = {path: f"browser-{i % BROWSER_GROUPS}" for i, path in enumerate(files)}
    for item in items:
        if item.path in group:
            item.add_marker(pytest.mark.xdist_group(name=group[item.path]))


# The garbage collector in the test processes. Each test builds and drops a Parley and its app (hundreds of
# thousands of objects, many in reference cycles), and Python's default thresholds ran a full collection of
# everything alive (the imported libraries included) every few tests. Here what collection imported is frozen out of
# the collector's sight, young collections run less often, automatic full ones are off, and one runs every
# `_FULL_COLLECTION_EVERY` tests. Measured on three API test files (198 tests): ~10 % less CPU, peak memory ~540 MB
# instead of ~275 MB with a full collection every 100 tests (~325 MB every 25).
_FULL_COLLECTION_EVERY = 50
_tests_since_full_collection = 0


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.freeze()
    gc.set_threshold(5_000, 50, 1_000_000)


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    global _tests_since_full_collection
    _tests_since_full_collection += 1
    if _tests_since_full_collection >= _FULL_COLLECTION_EVERY:
        _tests_since_full_collection = 0
        gc.collect()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run (never skipped in CI)."""
    import asyncio

    name = f"parley_test_{secrets.token_hex(4)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_pg_migrated: set[str] = set()


async def _fresh(url: str) -> Database:
    db = Database(url)
    if url in _pg_migrated:
        async with db.write() as conn:
            names = ", ".join(t.name for t in reversed(metadata.sorted_tables))
            await conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        await migrated(db)
        if url.startswith("postgresql"):
            _pg_migrated.add(url)
    return db


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/parley.db"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = await _fresh(db_url)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def fresh_pg_url(pg_database: str) -> Iterator[str]:
    """An empty PostgreSQL database of its own, for a test that runs several Parley processes."""
    import asyncio

    name = f"parley_e2e_{secrets.token_hex(4)}"
    admin_url = PG_ADMIN_URL

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield f"{pg_database.rsplit('/', 1)[0]}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
