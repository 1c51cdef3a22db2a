"""WhatsApp templates in a real browser (issue 12 §5): an admin submits a template, sees it pending, and after Meta
approves it and a sync, approved. `parley serve` runs its workers, which sync at start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from playwright.async_api import Page, expect

from tests.support.fake_meta import FakeMeta
from tests.support.provisioning import document
from tests.support.server import ParleyServer, wait_until
from tests.web.conftest import ALICE, SUPPORT, screenshot, sign_in


@pytest_asyncio.fixture(loop_scope="session")
async def meta() -> AsyncIterator[FakeMeta]:
    async with FakeMeta() as fake:
        fake.add_template("welcome_back", "en_US", "MARKETING", "APPROVED", "Welcome back, {{1}}!")
        yield fake


@pytest_asyncio.fixture(loop_scope="session")
async def whatsapp_console(tmp_path: Path, meta: FakeMeta) -> AsyncIterator[ParleyServer]:
    transport = {"name": "wa-main", "role": "whatsapp", "kind": "whatsapp", "number": SUPPORT,
                 "phone_number_id": meta.phone_number_id, "waba_id": meta.waba_id, "access_token": meta.access_token,
                 "app_secret": meta.app_secret, "verify_token": "verify", "api_base": meta.api_base}  # fmt: skip
    numbers = [{"number": SUPPORT, "sms": True, "whatsapp": True, "linked_service": "Support"}]
    server = ParleyServer(tmp_path)
    server.apply(document(numbers=numbers, transports=[transport]))
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def test_an_admin_submits_a_template_and_sees_it_approved_after_a_sync(
    whatsapp_console: ParleyServer, meta: FakeMeta, page: Page
) -> None:
    async def synced_at_start() -> bool:
        async with httpx.AsyncClient(auth=ALICE) as api:
            answer = await api.get(f"{whatsapp_console.url}/api/v2/whatsapp/templates")
        return [t["name"] for t in answer.json()] == ["welcome_back"]

    await wait_until(synced_at_start, timeout=20)
    await sign_in(page, whatsapp_console, path="/admin")
    await page.get_by_role("link", name="WhatsApp templates").click()
    await expect(page.get_by_role("heading", name="WhatsApp templates")).to_be_visible()
    await expect(page.locator('tr[data-template="welcome_back"]')).to_contain_text("approved")

    await page.get_by_label("Template name").fill("order_update")
    await page.get_by_label("Category").select_option("utility")
    await page.get_by_label("Header (optional)").fill("Your order")
    await page.get_by_label("Body").fill("{{1}}, your order {{2}} has shipped.")
    await page.get_by_label("Sample values").fill("Kerry\n#123")
    await page.get_by_role("button", name="Submit for approval").click()
    await expect(page.locator("#e-body")).to_contain_text("may not begin or end with a variable")
    assert meta.created == []

    await page.get_by_label("Body").fill("Hi {{1}}, your order {{2}} has shipped.")
    await page.get_by_role("button", name="Submit for approval").click()
    row = page.locator('tr[data-template="order_update"]')
    await expect(row).to_contain_text("pending")
    await expect(row).to_contain_text("Hi {{1}}, your order {{2}} has shipped.")
    assert [c["name"] for c in meta.created] == ["order_update"]

    meta.set_status("order_update", "APPROVED")
    await page.get_by_role("button", name="Sync now").click()
    await expect(page.get_by_text("2 templates synced, 0 removed")).to_be_visible()
    await expect(row).to_contain_text("approved")
    await screenshot(page, "admin-whatsapp-templates")
    assert meta.problems == []
