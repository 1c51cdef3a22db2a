"""Schema migrations with Alembic, run in-process on the application's own engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from parley.store.db import Database
from parley.store.tables import metadata

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(db: Database, revision: str = "head") -> None:
    await _migrate(db, command.upgrade, revision)


async def downgrade(db: Database, revision: str) -> None:
    await _migrate(db, command.downgrade, revision)


async def _migrate(db: Database, step: Callable[[Config, str], None], revision: str) -> None:
    """Alembic's ``step`` to ``revision``, in one schema-changing transaction (`Database.schema_change`)."""

    def _run(connection: Connection) -> None:
        step(alembic_config(connection), revision)

    async with db.schema_change() as conn:
        await conn.run_sync(_run)


async def schema_drift(db: Database) -> list[Any]:
    """Differences between the migrated database and the tables in code (empty when they agree)."""

    def _compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with db.read() as conn:
        return await conn.run_sync(_compare)
