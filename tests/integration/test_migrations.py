"""The Alembic migrations create exactly the tables in code (like `alembic check`)."""

from __future__ import annotations

from parley.store.db import Database
from parley.store.migrate import schema_drift


async def test_migrations_match_the_tables_in_code(db: Database) -> None:
    assert await schema_drift(db) == []
