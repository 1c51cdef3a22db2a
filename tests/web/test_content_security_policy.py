"""The console works under its Content-Security-Policy in Chromium (issue 10); every console test also fails on
any violation (tests/web/conftest.py)."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.support.server import ParleyServer, wait_until
from tests.support.smsc import SmscSimulator
from tests.web.conftest import BOB, CUSTOMER, SUPPORT, sign_in


async def test_the_browser_enforces_the_policy_and_the_console_needs_nothing_it_forbids(
    console: ParleyServer, smsc: SmscSimulator, page: Page, csp_violations: list[str]
) -> None:
    await sign_in(page, console, BOB, "/inbox")
    injected = """() => { const s = document.createElement('script'); s.textContent = 'window.injectedRan = true';
                          document.head.appendChild(s); return window.injectedRan === true; }"""
    assert await page.evaluate(injected) is False  # an injected inline script does not run
    await wait_until(lambda: any(v.startswith("script-src-elem blocked inline") for v in csp_violations), timeout=10)
    csp_violations.clear()
    assert await page.evaluate("() => document.querySelectorAll('style').length") == 0  # htmx added none

    smsc.send_mo(CUSTOMER, SUPPORT, "Is my order ready?")
    item = page.get_by_role("list", name="Conversations").get_by_role("link").filter(has_text=CUSTOMER)
    await expect(item.locator(".badge.unread")).to_contain_text("1")
    await item.click()
    timeline = page.get_by_role("list", name="Messages and events")
    await expect(timeline.locator(".bubble.in")).to_have_count(1)
    await expect(item.locator(".badge.unread")).to_have_count(0)  # the visible page posted that it was read

    # The composer resets itself after a send and the reply follows its receipt live (per-conversation events).
    composer = page.get_by_label(f"Reply to {CUSTOMER}")
    await composer.fill("Yes")
    await page.get_by_role("button", name="Send").click()
    await expect(composer).to_have_value("")
    await expect(timeline.locator(".bubble.out .badge")).to_have_text("delivered", timeout=20_000)

    # The campaign form's counter gets the message under the name the server wants (data-param-as).
    await page.goto(f"{console.url}/campaigns/new")
    await page.get_by_label("Message").fill("Hi {first_name}")
    await expect(page.locator("#message-count")).to_contain_text("15 characters")
    for path in ("/send", "/campaigns", "/lists", "/blocklist", "/stats"):
        await page.goto(f"{console.url}{path}")
        await expect(page.locator("main")).to_be_visible()
