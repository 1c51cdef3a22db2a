"""Alembic environment: runs migrations on the connection handed in by parley.store.migrate."""

from __future__ import annotations

from alembic import context

from parley.store.tables import metadata

target_metadata = metadata


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # UtcDateTime lives in parley.store.tables.base: autogenerate writes it as the migrations always have,
        # through the package that re-exports it (script.py.mako imports parley.store.tables).
        user_module_prefix="parley.store.tables.",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
