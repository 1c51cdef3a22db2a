"""The user directory page in a real browser: Admin › User directory › Sync now, against a real slapd."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page, expect

from tests.support.provisioning import document
from tests.support.server import ParleyServer
from tests.support.slapd import BIND_DN, BIND_PASSWORD, PEOPLE, Slapd, person, running_slapd
from tests.web.conftest import sign_in


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[Slapd]:
    with running_slapd(tmp_path / "slapd") as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def server(tmp_path: Path, slapd: Slapd) -> AsyncIterator[ParleyServer]:
    parley = ParleyServer(tmp_path)
    directory = {
        "url": slapd.url,
        "bind_dn": BIND_DN,
        "password": BIND_PASSWORD,
        "base_dn": PEOPLE,
        "interval": 0,  # on demand only: the button does the first sync
        "attributes": {"extension": "parleyExtension", "license": "parleyLicense"},
    }
    parley.apply(document(directory=directory))
    await parley.start()
    try:
        yield parley
    finally:
        await parley.close()


async def test_sync_now_creates_the_directory_users_and_shows_each_skipped_entry(
    server: ParleyServer, slapd: Slapd, page: Page
) -> None:
    slapd.add(
        "\n".join(
            [
                person("ann", cn="Ann Ldap", parleyExtension="201", parleyLicense="business"),
                person("odd", cn="Odd", parleyExtension="202", parleyLicense="gold"),
            ]
        )
    )
    await sign_in(page, server, path="/admin")
    await page.get_by_role("link", name="User directory").click()
    await expect(page.get_by_role("heading", name="User directory (LDAP)")).to_be_visible()
    await expect(page.get_by_text("No sync yet.")).to_be_visible()
    await page.get_by_role("button", name="Sync now").click()
    await expect(page.get_by_text("done — created: 1, skipped: 1")).to_be_visible()
    await expect(
        page.get_by_role("cell", name='license "gold" is not one of basic, essential, business, premium')
    ).to_be_visible()
    await page.goto(f"{server.url}/admin/users")
    await expect(page.get_by_role("cell", name="Ann Ldap LDAP")).to_be_visible()
