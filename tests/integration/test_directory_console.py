"""The user directory through HTTP (issue 14 §2): the console's page and its sync button, and LDAP users signing in
to the console and with HTTP Basic when ``ldap_auth`` is on — against a real slapd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.bootstrap import utcnow
from parley.services.directory_sync import LEASE, LEASE_NAME
from parley.store import directory_syncs
from tests.support.app import ALICE, BOB, console_client, in_process
from tests.support.provisioning import document
from tests.support.slapd import BIND_DN, BIND_PASSWORD, PEOPLE, Slapd, person, running_slapd

LDAP_ANN = ("201", "ann-ldap-pw")


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[Slapd]:
    with running_slapd(tmp_path / "slapd") as server:
        yield server


def with_directory(server: Slapd, *, ldap_auth: bool) -> dict[str, object]:
    return document(
        directory={
            "url": server.url,
            "bind_dn": BIND_DN,
            "password": BIND_PASSWORD,
            "base_dn": PEOPLE,
            "ldap_auth": ldap_auth,
            "attributes": {"extension": "parleyExtension", "license": "parleyLicense"},
        }
    )


async def test_the_sync_button_syncs_and_the_page_reports_each_entry(tmp_path: Path, slapd: Slapd) -> None:
    slapd.add(
        "\n".join(
            [
                person("ann", cn="Ann Ldap", parleyExtension="201", parleyLicense="business"),
                person("odd", cn="Odd", parleyExtension="202", parleyLicense="gold"),
            ]
        )
    )
    async with in_process(tmp_path, with_directory(slapd, ldap_auth=False)) as app:
        async with console_client(app, BOB) as (bob, csrf):
            assert (await bob.get("/admin/directory")).status_code == 403  # administrators only
            assert (await bob.post("/admin/directory/sync", data={"csrf": csrf})).status_code == 403
        async with console_client(app, ALICE) as (alice, csrf):
            page = await alice.get("/admin/directory")
            assert page.status_code == 200 and "No sync yet." in page.text and BIND_PASSWORD not in page.text
            assert (await alice.post("/admin/directory/sync")).status_code == 403  # no CSRF token
            done = await alice.post("/admin/directory/sync", data={"csrf": csrf})
            assert done.status_code == 303 and done.headers["location"] == "/admin/directory"
            page = (await alice.get("/admin/directory")).text
            assert "created: 1, skipped: 1" in page
            assert f"uid=odd,{PEOPLE}" in page and "is not one of basic, essential, business, premium" in page
            assert "/admin/directory" in (await alice.get("/admin")).text
            async with app.parley.db.write() as conn:  # a scheduled sync in another worker holds the lease
                await directory_syncs.take_lease(conn, LEASE_NAME, "other-worker", utcnow(), utcnow() + LEASE)
            busy = await alice.post("/admin/directory/sync", data={"csrf": csrf})
            assert busy.status_code == 409 and "Not synced: another directory sync is running." in busy.text
        assert await app.parley.cache.user("201") is not None


async def test_with_ldap_auth_a_directory_user_signs_in_to_the_console_and_with_basic_auth(
    tmp_path: Path, slapd: Slapd
) -> None:
    slapd.add(person("ann", cn="Ann Ldap", parleyExtension="201", parleyLicense="business", userPassword=LDAP_ANN[1]))
    async with in_process(tmp_path, with_directory(slapd, ldap_auth=True)) as app:
        assert (await app.parley.directory.run("cli")).counts == {"created": 1}
        async with console_client(app, LDAP_ANN) as (ann, _):
            assert (await ann.get("/inbox")).status_code == 200
        async with app.client(LDAP_ANN) as basic:
            assert (await basic.get("/api/v2/conversations")).status_code == 200
        async with app.client(("201", "not-her-password")) as wrong:
            assert (await wrong.get("/api/v2/conversations")).status_code == 401
