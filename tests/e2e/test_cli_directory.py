"""`parley directory sync` as an administrator runs it, against a real slapd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.provisioning import document
from tests.support.server import ParleyServer, to_toml
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
