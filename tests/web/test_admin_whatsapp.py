"""The admin console in a browser: WhatsApp turned on for a number and its WhatsApp transport added (issue 12 §1)."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.support.fake_meta import FakeMeta
from tests.support.server import ParleyServer
from tests.web.conftest import SUPPORT, sign_in

WA_NUMBER = "+15551230002"


async def test_an_admin_adds_a_whatsapp_transport_for_a_number_with_whatsapp_on(
    console: ParleyServer, page: Page
) -> None:
    async with FakeMeta() as meta:
        await sign_in(page, console, path="/admin/transports/new?kind=whatsapp")
        await expect(page.get_by_role("heading", name="New WhatsApp number")).to_be_visible()
        await expect(page.get_by_text("/api/v2/webhooks/whatsapp")).to_be_visible()
        await page.get_by_label("Name", exact=True).fill("wa-main")
        await page.get_by_label("Company number", exact=True).fill(SUPPORT)  # WhatsApp is not on for it
        await page.get_by_label("Phone number id", exact=True).fill(meta.phone_number_id)
        await page.get_by_label("WhatsApp Business Account id", exact=True).fill(meta.waba_id)
        await page.get_by_label("Access token", exact=True).fill(meta.access_token)
        await page.get_by_label("App secret", exact=True).fill(meta.app_secret)
        await page.get_by_label("Verify token", exact=True).fill("verify-me")
        await page.get_by_label("API address", exact=True).fill(meta.api_base)
        await page.get_by_role("button", name="Add transport").click()
        await expect(page.locator("#e-number")).to_contain_text("is not a company number with WhatsApp on")
        await expect(page.get_by_label("Access token", exact=True)).to_have_value("")  # a secret never comes back

        await page.goto(f"{console.url}/admin/numbers/new")
        await page.get_by_label("Number", exact=True).fill(WA_NUMBER)
        await page.get_by_label("WhatsApp", exact=True).check()
        await page.get_by_role("button", name="Add number").click()
        await page.wait_for_url(lambda url: "/admin/numbers/new" not in url)

        await page.goto(f"{console.url}/admin/transports/new?kind=whatsapp")
        await page.get_by_label("Name", exact=True).fill("wa-main")
        await page.get_by_label("Company number", exact=True).fill(WA_NUMBER)
        await page.get_by_label("Phone number id", exact=True).fill(meta.phone_number_id)
        await page.get_by_label("WhatsApp Business Account id", exact=True).fill(meta.waba_id)
        await page.get_by_label("Access token", exact=True).fill(meta.access_token)
        await page.get_by_label("App secret", exact=True).fill(meta.app_secret)
        await page.get_by_label("Verify token", exact=True).fill("verify-me")
        await page.get_by_label("API address", exact=True).fill(meta.api_base)
        await page.get_by_role("button", name="Add transport").click()
        await expect(page.get_by_role("heading", name="Transport wa-main")).to_be_visible()
        await expect(page.get_by_label("Phone number id", exact=True)).to_have_value(meta.phone_number_id)
        for secret in ("Access token", "App secret", "Verify token"):
            await expect(page.get_by_label(secret, exact=True)).to_have_value("")
        assert meta.access_token not in await page.content()

        await page.goto(f"{console.url}/admin/transports")
        row = page.get_by_role("row").filter(has_text="wa-main")
        await expect(row).to_contain_text("WhatsApp")
        await expect(row).to_contain_text(WA_NUMBER)
        await expect(row.locator("[data-state]")).to_have_text("ready", timeout=15_000)
