"""Issue 12 end to end, in headless Chromium against `parley serve` and the local Graph API (FakeMeta): a customer
writes on WhatsApp, the agent answers inside the window; a day later (the server's clock moved by
PARLEY_CLOCK_OFFSET_FILE) the console offers only templates, the agent sends one with a variable, Meta receives it
and reports it read, and the timeline shows "read"."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Page, expect

from tests.support.fake_meta import FakeMeta
from tests.support.provisioning import document
from tests.support.server import ParleyServer, wait_until
from tests.web.conftest import ALICE, BOB, CUSTOMER, SUPPORT, screenshot, sign_in

WEBHOOK = "/api/v2/webhooks/whatsapp"
DAY = 24 * 3600


@pytest_asyncio.fixture(loop_scope="session")
async def meta() -> AsyncIterator[FakeMeta]:
    async with FakeMeta() as fake:
        fake.add_template("order_update", "en_US", "UTILITY", "APPROVED", "Your order {{1}} is ready for pickup")
        fake.add_template("spring_sale", "en_US", "MARKETING", "PENDING", "Our spring sale starts today")
        yield fake


@pytest.fixture
def offset_file(tmp_path: Path) -> Path:
    path = tmp_path / "clock-offset"
    path.write_text("0")
    return path


@pytest_asyncio.fixture(loop_scope="session")
async def whatsapp_console(tmp_path: Path, meta: FakeMeta, offset_file: Path) -> AsyncIterator[ParleyServer]:
    """`parley serve` with its workers; Support's number is on WhatsApp through FakeMeta; Bob (business) takes
    Support's conversations; the server's clock reads its shift from ``offset_file``."""
    transport = {"name": "wa-main", "role": "whatsapp", "kind": "whatsapp", "number": SUPPORT,
                 "phone_number_id": meta.phone_number_id, "waba_id": meta.waba_id, "access_token": meta.access_token,
                 "app_secret": meta.app_secret, "verify_token": "verify", "api_base": meta.api_base}  # fmt: skip
    doc = document(
        numbers=[{"number": SUPPORT, "sms": True, "whatsapp": True, "linked_service": "Support"}],
        transports=[transport],
    )
    doc["users"] = [{**u, "license": "business"} if u["extension"] == "102" else u for u in doc["users"]]
    server = ParleyServer(tmp_path, extra_env={"PARLEY_CLOCK_OFFSET_FILE": str(offset_file)})
    server.apply(doc)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def sent_to_meta(meta: FakeMeta, kind: str) -> list[dict[str, Any]]:
    return [m for m in meta.messages if m["type"] == kind]


async def test_the_agent_answers_in_the_window_then_sends_a_template_after_it_and_sees_it_read(
    whatsapp_console: ParleyServer, meta: FakeMeta, offset_file: Path, page: Page
) -> None:
    server = whatsapp_console

    async def synced() -> bool:
        async with httpx.AsyncClient(auth=ALICE) as api:
            await api.post(f"{server.url}/api/v2/whatsapp/templates/sync")
            listed = await api.get(f"{server.url}/api/v2/whatsapp/templates", params={"number": SUPPORT})
        return {t["name"] for t in listed.json()} == {"order_update", "spring_sale"}

    await wait_until(synced, timeout=20)
    await sign_in(page, server, BOB, "/inbox")

    # The customer writes on WhatsApp: Meta posts a signed webhook to the running server.
    assert (await meta.post(server.url + WEBHOOK, meta.inbound(text="Is my order ready?"))).status_code == 200
    item = page.get_by_role("list", name="Conversations").get_by_role("link").filter(has_text="Is my order ready?")
    await expect(item.locator(".channel-tag")).to_have_text("WhatsApp")
    await item.click()
    cid = await item.get_attribute("data-conversation")
    timeline = page.get_by_role("list", name="Messages and events")
    incoming = timeline.locator(".bubble.in").filter(has_text="Is my order ready?")
    await expect(incoming.locator(".channel-tag")).to_have_text("WhatsApp")

    # Inside the window: WhatsApp is preselected (the customer's last channel), the countdown runs, text goes.
    window = page.locator("#wa-window")
    await expect(window).to_contain_text(re.compile(r"WhatsApp window open — closes in 23:5\d:\d\d"))
    await expect(page.get_by_role("radio", name="WhatsApp")).to_be_checked()
    await expect(page.get_by_role("radio", name="SMS")).not_to_be_checked()
    composer = page.get_by_label(f"Reply to {CUSTOMER}")
    await expect(composer).to_have_attribute("maxlength", "4096")
    # Inside the window a template may go too; the agent looks, and goes back to writing.
    await page.get_by_role("button", name="Use a WhatsApp template").click()
    await expect(page.get_by_label("Template", exact=True)).to_be_visible()
    await expect(composer).to_be_hidden()
    await page.get_by_role("button", name="Write a message instead").click()
    await expect(composer).to_be_visible()
    # SMS is one click away: the counter counts SMS segments then.
    await page.get_by_role("radio", name="SMS").check()
    await expect(composer).to_have_attribute("maxlength", "670")
    await expect(page.locator("#composer-count")).to_contain_text("SMS segment")
    await page.get_by_role("radio", name="WhatsApp").check()
    await expect(page.locator("#composer-count")).to_contain_text("/ 4096 characters")
    await composer.fill("Yes, it is ready for pickup!")
    await page.get_by_role("button", name="Send").click()
    await expect(composer).to_have_value("")
    await wait_until(lambda: sent_to_meta(meta, "text"), timeout=20)
    [text] = sent_to_meta(meta, "text")
    assert (text["to"], text["text"]["body"]) == ("15557654321", "Yes, it is ready for pickup!")
    reply = timeline.locator(".bubble.out").filter(has_text="Yes, it is ready for pickup!")
    await expect(reply.locator(".channel-tag")).to_have_text("WhatsApp")

    # A day later by the server's clock (the browser's is not asked): the window is closed. The session ended too
    # (12 idle hours), so the reload asks the agent to sign in again.
    await page.goto("about:blank")  # the old page's live stream and requests stop here
    cookies = {c["name"]: c["value"] for c in await page.context.cookies(server.url)}
    offset_file.write_text(str(DAY + 60))

    async def signed_out() -> bool:
        async with httpx.AsyncClient(cookies=cookies) as browser_like:
            answer = await browser_like.get(f"{server.url}/inbox/{cid}")
        return answer.status_code in (302, 303) and "/login" in answer.headers["location"]

    await wait_until(signed_out, timeout=15)  # the server re-reads the offset file within half a second
    await sign_in(page, server, BOB, f"/inbox/{cid}")
    await expect(page.locator("#wa-window")).to_contain_text(
        re.compile(r"WhatsApp window closed at \d{4}-\d\d-\d\d \d\d:\d\d — only templates can be sent")
    )
    await expect(page.get_by_role("radio", name="WhatsApp")).to_be_checked()
    await expect(page.get_by_label(f"Reply to {CUSTOMER}")).to_be_hidden()
    await expect(page.get_by_role("button", name="Attach files")).to_be_hidden()
    picker = page.get_by_label("Template", exact=True)
    await expect(picker).to_be_visible()
    await expect(picker.locator("option")).to_have_text(
        ["Choose an approved template", "order_update (en_US, utility)"]
    )

    await picker.select_option("order_update|en_US")
    preview = page.get_by_label("Template preview")
    await expect(preview).to_have_text("Your order {{1}} is ready for pickup")
    await page.get_by_label("Variable {{1}}").fill("#4711")
    await expect(preview).to_have_text("Your order #4711 is ready for pickup")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#composer-feedback")).to_contain_text("Sent")

    await wait_until(lambda: sent_to_meta(meta, "template"), timeout=20)
    [template] = sent_to_meta(meta, "template")
    assert template["template"]["name"] == "order_update"
    assert template["template"]["language"] == {"code": "en_US"}
    assert template["template"]["components"] == [{"type": "body", "parameters": [{"type": "text", "text": "#4711"}]}]
    sent = timeline.locator(".bubble.out").filter(has_text="Your order #4711 is ready for pickup")
    await expect(sent.locator(".template-tag")).to_have_text("template order_update")

    # Meta reports it read: the badge follows without a reload.
    read = meta.status(template["id"], "read")
    assert (await meta.post(server.url + WEBHOOK, read)).status_code == 200
    await expect(sent.locator(".badge")).to_have_text("✓✓ read")

    # The customer answers (Meta's timestamp by the same shifted day): the window opens again without a reload.
    again = meta.inbound(text="Great, thanks!", timestamp=int(time.time()) + DAY + 60)
    assert (await meta.post(server.url + WEBHOOK, again)).status_code == 200
    await expect(page.locator("#wa-window")).to_contain_text(re.compile(r"closes in 2[34]:\d\d:\d\d"))
    await expect(page.get_by_label(f"Reply to {CUSTOMER}")).to_be_visible()
    await expect(timeline.locator(".bubble.in").filter(has_text="Great, thanks!")).to_be_visible()
    await expect(page.get_by_role("list", name="Conversations")).to_contain_text("Great, thanks!")
    await screenshot(page, "inbox-whatsapp")
    # Last, and the page is left at once: the screenshot leaves a style="" on each field (Playwright hides the
    # caret), which a later htmx swap would copy — something the console's policy blocks.
    await page.goto("about:blank")
    assert meta.problems == []
