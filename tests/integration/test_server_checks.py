"""Parley says at start-up when the database server's settings will slow it down (`store.server_checks`): on
PostgreSQL with autovacuum off nothing refreshes the statistics its plans depend on (docs/benchmarks.md, session 12).
Parley changes nothing on the server; it logs a warning."""

from __future__ import annotations

import sqlalchemy as sa
from structlog.testing import capture_logs

from parley.cli import _warn_about_the_server
from parley.store import server_checks
from parley.store.db import Database


async def _autovacuum_off(db: Database) -> bool:
    """What the server itself says (this machine's PostgreSQL has autovacuum off; a default one has it on)."""
    async with db.read() as conn:
        settings = (await conn.execute(sa.text("SELECT name, setting FROM pg_settings WHERE name IN "
                                               "('autovacuum', 'track_counts')"))).all()  # fmt: skip
    return any(setting == "off" for _, setting in settings)


async def test_a_server_without_autovacuum_is_named_and_sqlite_never(db: Database) -> None:
    expected = [server_checks.AUTOVACUUM_OFF] if db.is_postgres and await _autovacuum_off(db) else []
    assert await server_checks.warnings(db) == expected


async def test_the_warning_is_logged_once_at_start_up(db: Database) -> None:
    with capture_logs() as logged:
        await _warn_about_the_server(db)
    warned = [e for e in logged if e["event"] == "database.settings"]
    if db.is_postgres and await _autovacuum_off(db):
        assert warned == [
            {"event": "database.settings", "log_level": "warning", "problem": server_checks.AUTOVACUUM_OFF}
        ]
    else:
        assert warned == []
