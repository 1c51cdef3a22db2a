"""Fresh databases for a run: files in a temp dir for SQLite, `bench_<random>_<label>` databases on PostgreSQL."""

from __future__ import annotations

import secrets
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from parley.store.db import Database

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


class Backend:
    name: str

    async def create(self, label: str) -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        raise NotImplementedError

    async def drop_all(self) -> None:
        raise NotImplementedError

    async def version(self) -> str:
        raise NotImplementedError


class SqliteBackend(Backend):
    name = "SQLite"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def create(self, label: str) -> str:
        return f"sqlite+aiosqlite:///{self.directory / label}.db"

    async def drop_all(self) -> None:
        pass  # the temp dir goes with the run

    async def version(self) -> str:
        import sqlite3

        return sqlite3.sqlite_version


class PostgresBackend(Backend):
    name = "PostgreSQL"

    def __init__(self, admin_url: str) -> None:
        url = make_url(admin_url)
        self.admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.url = url.set(drivername="postgresql+asyncpg")
        self.prefix = f"bench_{secrets.token_hex(4)}"
        self.created: list[str] = []

    async def _admin(self, sql: str) -> str:
        conn = await asyncpg.connect(self.admin_dsn, timeout=10)
        try:
            return str(await conn.fetchval(sql) if sql.startswith(("SELECT", "SHOW")) else await conn.execute(sql))
        finally:
            await conn.close()

    async def create(self, label: str) -> str:
        name = f"{self.prefix}_{label}"
        await self._admin(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    async def drop_all(self) -> None:
        for name in self.created:
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()

    async def version(self) -> str:
        return await self._admin("SHOW server_version")


async def count(url: str, sql: str) -> int:
    db = Database(url)
    try:
        async with db.read() as conn:
            return int(await conn.scalar(sa.text(sql)) or 0)
    finally:
        await db.close()


class Counter:
    """One open connection for polling a COUNT query cheaply."""

    def __init__(self, url: str, sql: str) -> None:
        self.db = Database(url, pool_size=1)
        self.sql = sa.text(sql)

    async def __call__(self) -> int:
        async with self.db.read() as conn:
            return int(await conn.scalar(self.sql) or 0)

    async def close(self) -> None:
        await self.db.close()
