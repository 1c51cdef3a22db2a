"""API keys in a real browser (issue 13 §2): create one, copy its secret (shown once), use it, revoke it."""

from __future__ import annotations

import httpx
from playwright.async_api import BrowserContext, Page, expect

from tests.support.server import ParleyServer
from tests.web.conftest import ALICE, BOB, screenshot, sign_in


async def test_bob_creates_copies_uses_and_revokes_a_key(
    console: ParleyServer, context: BrowserContext, page: Page
) -> None:
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.url)
    await sign_in(page, console, BOB, path="/inbox")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    await expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
    await expect(page.get_by_label("admin", exact=True)).to_have_count(0)  # Bob is no administrator
    await page.get_by_label("Name").fill("Bob's CRM")
    await page.get_by_label("Expires (optional)").fill("2030-12-31")
    await page.get_by_role("button", name="Create key").click()

    shown = page.get_by_test_id("created-key")
    await expect(shown).to_contain_text("shown this once")
    secret = await page.get_by_test_id("secret").input_value()
    assert secret.startswith("psk_")
    await shown.get_by_role("button", name="Copy").click()
    await expect(shown.get_by_role("button", name="Copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == secret
    await screenshot(page, "api-keys")

    row = page.get_by_test_id("keys").get_by_role("row", name="Bob's CRM")
    await expect(row).to_contain_text("send, read")
    await expect(row).to_contain_text("never")  # not used yet
    await expect(row).to_contain_text("2030-12-31")
    async with httpx.AsyncClient(base_url=console.url, headers={"Authorization": f"Bearer {secret}"}) as crm:
        assert (await crm.get("/api/v2/messages")).status_code == 200
        await page.goto(f"{console.url}/api-keys")
        assert secret not in await page.content()  # never shown again
        await expect(row).not_to_contain_text("never")  # the last use

        page.once("dialog", lambda dialog: dialog.accept())
        await row.get_by_role("button", name="Revoke Bob's CRM").click()
        await expect(page.get_by_role("status").filter(has_text="is revoked")).to_be_visible()
        await expect(page.get_by_text("No keys yet.")).to_be_visible()
        assert (await crm.get("/api/v2/messages")).status_code == 401


async def test_alice_makes_a_key_for_bob_and_sees_it_listed_with_its_user(console: ParleyServer, page: Page) -> None:
    await sign_in(page, console, ALICE, path="/api-keys")
    await page.get_by_label("Name").fill("Bob's phone app")
    await page.get_by_label("read", exact=True).uncheck()
    await page.get_by_label("conversations", exact=True).check()
    await page.get_by_label("For user (optional)").fill("102")
    await page.get_by_role("button", name="Create key").click()
    await expect(page.get_by_test_id("created-key")).to_be_visible()
    row = page.get_by_test_id("keys").get_by_role("row", name="Bob's phone app")
    await expect(row.get_by_role("cell", name="102", exact=True)).to_be_visible()
    await expect(row).to_contain_text("send, conversations")
