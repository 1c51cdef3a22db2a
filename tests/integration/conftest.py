"""Fixtures of the integration tests' own: an empty database for the tests of single migrations."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables yet (a SQLite file or a fresh PostgreSQL database): a migration test upgrades it
    to the revision before the one it tests."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/old.db"
    return str(request.getfixturevalue("fresh_pg_url"))
