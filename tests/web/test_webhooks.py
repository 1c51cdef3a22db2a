"""Outbound webhooks in a real browser (issue 13 §1): create an endpoint (its secret shown once), see a failed
delivery with the receiver's answer, resend it, and the notice every page shows an admin when one is disabled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from playwright.async_api import Locator, Page, expect

from parley.store import webhooks as store
from parley.store.db import Database
from tests.support.server import ParleyServer, wait_until
from tests.support.smsc import SmscSimulator
from tests.support.webhook_receiver import HttpSink, envelope, signed_by
from tests.web.conftest import ALICE, console_provisioning, sign_in


@pytest_asyncio.fixture(loop_scope="session")
async def server(tmp_path: Path, smsc: SmscSimulator) -> AsyncIterator[ParleyServer]:
    parley = ParleyServer(tmp_path)
    parley.apply({**console_provisioning(smsc.port), "webhooks": {"allow_private": ["127.0.0.0/8"]}})
    await parley.start()
    try:
        yield parley
    finally:
        await parley.close()


async def test_alice_creates_an_endpoint_sees_a_failed_delivery_and_resends_it(
    server: ParleyServer, page: Page
) -> None:
    async with HttpSink(status=500, body="try later") as sink:
        await sign_in(page, server, ALICE, path="/inbox")
        await page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
        await expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
        await page.get_by_label("URL").fill(sink.url + "/crm")
        await page.get_by_label("Description (optional)").fill("CRM")
        await page.get_by_role("button", name="Create endpoint").click()
        await expect(page.get_by_test_id("created-endpoint")).to_contain_text("shown this once")
        secret = await page.get_by_test_id("secret").input_value()
        assert secret.startswith("whsec_")

        async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as api:
            sent = await api.post("/api/v2/messages", json={"to": "+15557654321", "text": "Hello"})
            assert sent.status_code == 201
        await page.get_by_test_id("endpoints").get_by_role("link", name=sink.url + "/crm").click()
        assert secret not in await page.content()  # never shown again
        answers = page.get_by_test_id("deliveries").get_by_test_id("answer")
        await wait_until(lambda: reloaded_has(page, answers))  # the sender works in the background
        await expect(answers.first).to_contain_text("HTTP 500")
        await expect(answers.first).to_contain_text("try later")

        sink.answer(200, "thanks")
        oldest = page.get_by_test_id("deliveries").locator("tbody tr").last  # the message's first status
        first_event = await oldest.locator("code").inner_text()
        await page.get_by_role("button", name=f"Resend {first_event}").click()
        await expect(page.get_by_role("status").filter(has_text="will be sent again")).to_be_visible()
        thanks = page.get_by_test_id("deliveries").get_by_text("thanks")
        await wait_until(lambda: reloaded_has(page, thanks))
        await expect(thanks.first).to_be_visible()
        assert any(envelope(r)["id"] == first_event and signed_by(r, secret) for r in sink.requests)


async def test_every_page_tells_an_admin_that_an_endpoint_was_disabled(server: ParleyServer, page: Page) -> None:
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as api:
        created = await api.post("/api/v2/webhook-endpoints",
                                 json={"url": "https://example.com/gone", "events": ["message.status"]})  # fmt: skip
    endpoint_id = created.json()["id"]
    db = Database(server.env["PARLEY_DATABASE_URL"])
    try:
        async with db.write() as conn:
            await store.disable(conn, endpoint_id, "every delivery failed for a day (HTTP 503)", created_at(created))
    finally:
        await db.close()
    await sign_in(page, server, ALICE, path="/inbox")
    notice = page.get_by_test_id("webhooks-disabled")
    await expect(notice).to_contain_text("was disabled: every delivery failed for a day")
    await notice.get_by_role("link").click()
    await expect(page.get_by_test_id("disabled-notice")).to_be_visible()
    await page.get_by_role("button", name="Enable it again").click()
    await expect(page.get_by_test_id("disabled-notice")).to_have_count(0)


async def reloaded_has(page: Page, locator: Locator) -> bool:
    """Reload the page and say whether ``locator`` finds something (a condition for `wait_until`)."""
    await page.reload()
    return await locator.count() > 0


def created_at(answer: httpx.Response) -> object:
    from datetime import datetime

    return datetime.fromisoformat(answer.json()["created_at"].replace("Z", "+00:00"))
