"""The composer says as you type what the transport does with links (issue 14 §4), in a real browser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Page, expect

from tests.support.server import ParleyServer
from tests.support.smsc import SmscSimulator
from tests.web.conftest import console_provisioning, sign_in


@pytest_asyncio.fixture(loop_scope="session")
async def refusing_console(tmp_path: Path, smsc: SmscSimulator) -> AsyncIterator[ParleyServer]:
    """`parley serve` whose only transport, the carrier, refuses links."""
    doc = console_provisioning(smsc.port)
    doc["transports"] = [{**doc["transports"][0], "links": "refuse"}]
    server = ParleyServer(tmp_path)
    server.apply(doc)
    await server.start()
    try:
        await smsc.wait_for(lambda: smsc.bound_sessions >= 1, timeout=20)
        yield server
    finally:
        await server.close()


async def test_typing_a_link_shows_that_the_carrier_refuses_it(refusing_console: ParleyServer, page: Page) -> None:
    await sign_in(page, refusing_console, path="/send")
    count = page.locator("#text-count")
    await page.get_by_label("Message").fill("Our offer: www.acme.com/deal")
    await expect(count.locator("[data-links=refuse]")).to_contain_text(
        'Will be refused: the message has a link (www.acme.com/deal), and the transport "carrier" refuses links'
    )
    await page.get_by_label("Message").fill("Our offer is in the shop")
    await expect(count).to_have_text("24 characters · GSM-7 · 1 segment")
