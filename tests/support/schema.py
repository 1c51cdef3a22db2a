"""Migrated databases for tests, without running every migration for every test.

Running Alembic's migrations on a new SQLite file costs about a fifth of a second of CPU, and the suite makes a
new database for most of its tests. Each test process migrates one template file once and copies it; the copy is
byte for byte what `upgrade` would have made. PostgreSQL (and any file that already exists) is migrated as usual.
Tests of the migrations themselves (tests/integration/test_migration_*.py) call `upgrade` directly.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from pathlib import Path

import sqlalchemy as sa

from parley.store.db import Database
from parley.store.migrate import upgrade

SQLITE = "sqlite+aiosqlite:///"

_lock = threading.Lock()
_template: Path | None = None


def _make_template() -> Path:
    path = Path(tempfile.mkdtemp(prefix="parley-schema-")) / "template.db"

    async def migrate() -> None:
        db = Database(f"{SQLITE}{path}")
        try:
            await upgrade(db)
        finally:
            await db.close()

    asyncio.run(migrate())  # the last connection's close checkpoints the WAL into the file
    leftovers = [p.name for p in path.parent.iterdir() if p != path]
    assert not leftovers, f"the template database left {leftovers} beside it"
    return path


def template() -> Path:
    """This process's migrated SQLite file (made on first use, from any thread, inside or outside a loop)."""
    global _template
    with _lock:
        if _template is None:
            result: list[Path] = []
            worker = threading.Thread(target=lambda: result.append(_make_template()))  # a loop of its own
            worker.start()
            worker.join()
            assert result, "migrating the template database failed (see the thread's exception above)"
            _template = result[0]
        return _template


def copied(url: str) -> bool:
    """Put a migrated copy at ``url`` when it names a SQLite file that does not exist yet; False otherwise."""
    if not url.startswith(SQLITE):
        return False
    target = Path(url.removeprefix(SQLITE))
    if target.exists():
        return False
    shutil.copyfile(template(), target)
    return True


async def migrated(db: Database) -> None:
    """``db`` (not used yet) migrated to the newest revision."""
    if not copied(db.url):
        await upgrade(db)


async def rows(db: Database, sql: str) -> list[tuple[object, ...]]:
    """What a raw query returns, as tuples (migration tests read tables that the current schema no longer has)."""
    async with db.read() as conn:
        return [tuple(r) for r in (await conn.execute(sa.text(sql))).all()]
