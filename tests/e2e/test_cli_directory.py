"""`parley directory sync` as an administrator runs it, and the scheduled sync in `parley worker`s, against a real
slapd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from parley.store.db import Database
from parley.store.tables import directory_syncs
from tests.support.provisioning import document
from tests.support.server import ParleyServer, to_toml, wait_until
from tests.support.slapd import BIND_DN, BIND_PASSWORD, PEOPLE, Slapd, person, running_slapd


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[Slapd]:
    with running_slapd(tmp_path / "slapd") as server:
        yield server


def test_directory_sync_reports_each_entry_and_names_a_failure(tmp_path: Path, slapd: Slapd) -> None:
    slapd.add(
        "\n".join(
            [
                person("ann", cn="Ann Ldap", parleyExtension="201", parleyLicense="business"),
                person("odd", cn="Odd", parleyExtension="202", parleyLicense="gold"),
            ]
        )
    )
    cli = ParleyServer(tmp_path)
    doc = document(
        directory={
            "url": slapd.url,
            "bind_dn": BIND_DN,
            "password": BIND_PASSWORD,
            "base_dn": PEOPLE,
            "attributes": {"extension": "parleyExtension", "license": "parleyLicense"},
        }
    )
    (tmp_path / "parley.toml").write_text(to_toml(doc))
    assert "directory updated: 1" in cli.parley("apply", "parley.toml").stdout

    done = cli.parley("directory", "sync")
    assert "created" in done.stdout and "uid=ann" in done.stdout
    assert 'license "gold" is not one of basic, essential, business, premium' in done.stdout
    assert "directory synced: created: 1, skipped: 1" in done.stdout
    assert "uid=ann" not in cli.parley("directory", "sync").stdout  # unchanged entries are not listed ...
    assert "uid=ann" in cli.parley("directory", "sync", "--all").stdout  # ... unless asked

    slapd.stop()
    failed = cli.parley("directory", "sync", check=False)
    assert failed.returncode == 1
    assert "directory sync failed: cannot reach" in failed.stderr
    assert BIND_PASSWORD not in failed.stdout + failed.stderr


@pytest.mark.postgres
async def test_two_workers_sync_the_directory_once_on_schedule_and_ldap_users_sign_in(
    tmp_path: Path, slapd: Slapd, fresh_pg_url: str
) -> None:
    slapd.add(person("ann", cn="Ann Ldap", parleyExtension="201", parleyLicense="business", userPassword="ann-ldap-pw"))
    server = ParleyServer(tmp_path, database_url=fresh_pg_url)
    server.apply(
        document(
            directory={
                "url": slapd.url,
                "bind_dn": BIND_DN,
                "password": BIND_PASSWORD,
                "base_dn": PEOPLE,
                "interval": 3600,
                "ldap_auth": True,
                "attributes": {"extension": "parleyExtension", "license": "parleyLicense"},
            }
        )
    )
    try:
        await server.start("--no-workers")
        server.spawn_worker()
        server.spawn_worker()
        async with httpx.AsyncClient(base_url=server.url, auth=("201", "ann-ldap-pw")) as ann:

            async def signed_in() -> bool:
                return (await ann.get("/api/v2/conversations")).status_code == 200

            await wait_until(signed_in, timeout=60)
        db = Database(fresh_pg_url)
        try:
            async with db.read() as conn:
                runs = (await conn.execute(sa.select(directory_syncs.c.outcome, directory_syncs.c.trigger))).all()
        finally:
            await db.close()
        assert [(r.outcome, r.trigger) for r in runs] == [("done", "schedule")]
    finally:
        await server.close()
    assert BIND_PASSWORD not in server.log.read_text()
