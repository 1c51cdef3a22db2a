"""An expired session sends the agent back to sign-in and keeps the reply he was typing; the inbox on a phone."""

from __future__ import annotations

from playwright.async_api import Browser, BrowserContext, Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from tests.support.server import ParleyServer
from tests.support.smsc import SmscSimulator
from tests.web.conftest import ALICE, CUSTOMER, SUPPORT, screenshot, sign_in


async def open_conversation(page: Page, smsc: SmscSimulator, text: str) -> str:
    smsc.send_mo(CUSTOMER, SUPPORT, text)
    item = page.get_by_role("list", name="Conversations").get_by_role("link").filter(has_text=text)
    await item.click()
    await expect(page.get_by_role("list", name="Messages and events")).to_contain_text(text)
    await expect(item.locator(".badge.unread")).to_have_count(0)  # the page has posted that it was read
    return page.url


async def test_an_expired_session_returns_to_sign_in_and_keeps_the_draft(
    console: ParleyServer, smsc: SmscSimulator, page: Page, context: BrowserContext
) -> None:
    await sign_in(page, console, ALICE, "/inbox")
    conversation_url = await open_conversation(page, smsc, "Is the shop open on Sunday?")
    composer = page.get_by_label(f"Reply to {CUSTOMER}")
    await composer.fill("Yes, from 10 to 4.")

    await context.clear_cookies()  # the session is gone (expired, or signed out elsewhere)
    try:
        await page.get_by_role("button", name="Send").click(timeout=5_000)
    except PlaywrightTimeoutError:
        # The page's live stream may notice the session's end first and return to sign-in itself (the stream is
        # re-checked every few seconds): then there is no Send button left to press, and the draft must be kept
        # all the same.
        assert "/login" in page.url, page.url

    await expect(page).to_have_url(f"{console.url}/login?next={conversation_url.removeprefix(console.url)}")
    await page.get_by_label("Extension").fill(ALICE[0])
    await page.get_by_label("Password").fill(ALICE[1])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(conversation_url)
    await expect(page.get_by_label(f"Reply to {CUSTOMER}")).to_have_value("Yes, from 10 to 4.")
    assert not any(r.text == "Yes, from 10 to 4." for r in smsc.received)  # nothing went out unsigned


async def test_the_inbox_is_usable_at_phone_width(console: ParleyServer, smsc: SmscSimulator, browser: Browser) -> None:
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = await context.new_page()
        await sign_in(page, console, ALICE, "/inbox")
        await open_conversation(page, smsc, "Do you deliver to Boston?")
        # Nothing wider than the screen: no sideways scrolling on a phone.
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        composer = page.get_by_label(f"Reply to {CUSTOMER}")
        await composer.fill("We do.")
        await page.get_by_role("button", name="Send").click()
        await expect(composer).to_have_value("")
        await smsc.wait_for(lambda: any(r.text == "We do." for r in smsc.received), timeout=20)
        await screenshot(page, "inbox-phone")
    finally:
        await context.close()
