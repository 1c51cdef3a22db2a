"""A reply link opened on a phone (390×844, headless Chromium) against a real `parley serve`: the company's name and
the message, an answer that lands in the conversation, and an agent's reply that appears live on the page — then,
once the page is closed, goes by SMS."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, expect

from tests.support.server import ParleyServer, wait_until
from tests.support.smsc import SmscSimulator
from tests.web.conftest import ALICE, CUSTOMER, console_provisioning, csp_checked

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/r/[A-Za-z0-9]{12})")


@pytest_asyncio.fixture(loop_scope="session")
async def server(tmp_path: Path, smsc: SmscSimulator) -> AsyncIterator[ParleyServer]:
    server = ParleyServer(tmp_path)
    doc = console_provisioning(smsc.port)
    doc["pbx"] = {**doc["pbx"], "company_name": "Acme Bikes"}
    server.apply(doc)
    await server.start()
    try:
        await smsc.wait_for(lambda: smsc.bound_sessions >= 1, timeout=20)
        yield server
    finally:
        await server.close()


@pytest_asyncio.fixture(loop_scope="session")
async def phone(browser: Browser, csp_violations: list[str]) -> AsyncIterator[BrowserContext]:
    phone_size = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    async with csp_checked(browser, csp_violations, **phone_size) as context:
        yield context
    assert csp_violations == [], "the chat page did something its Content-Security-Policy blocks"


async def test_a_customer_answers_on_the_page_and_sees_the_agents_reply_live(
    server: ParleyServer, smsc: SmscSimulator, phone: BrowserContext
) -> None:
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as api:
        sent = await api.post(
            "/api/v2/messages", json={"to": CUSTOMER, "text": "Your bike is ready. Chat: {reply_link}"}
        )
        assert sent.status_code == 201, sent.text
        await smsc.wait_for(lambda: any(LINK.search(r.text) for r in smsc.received), timeout=20)
        link = next(m.group(1) for r in smsc.received if (m := LINK.search(r.text)))
        assert link.startswith(server.url)  # the SMS carried the real link, as the counter measured it

        page = await phone.new_page()
        await page.goto(link)
        await expect(page.get_by_role("heading", level=1)).to_have_text("Acme Bikes")
        messages = page.locator("#messages")
        await expect(messages.locator(".msg.theirs")).to_contain_text("Your bike is ready. Chat: ")
        await expect(page.locator("main.chat[data-live='1']")).to_have_count(1)  # the live stream is open

        await page.get_by_label("Your answer").fill("Great! Can I pick it up at 5?")
        await page.get_by_role("button", name="Send").click()
        await expect(messages.locator(".msg.mine")).to_have_text("Great! Can I pick it up at 5?")
        await expect(page.get_by_label("Your answer")).to_have_value("")

        async def conversation() -> str | None:
            found = (await api.get("/api/v2/conversations")).json()
            return str(found[0]["id"]) if found else None

        cid = await wait_until(conversation)
        sms_before = len(smsc.received)
        reply = await api.post(f"/api/v2/conversations/{cid}/messages", json={"text": "Yes, see you at 5"})
        assert reply.status_code == 201, reply.text
        await expect(messages.locator(".msg.theirs").filter(has_text="Yes, see you at 5")).to_have_count(1)
        timeline = (await api.get(f"/api/v2/conversations/{cid}/messages")).json()["messages"]
        channels = {m["body"]: m["channel"] for m in timeline}
        assert channels["Great! Can I pick it up at 5?"] == "web"
        assert channels["Yes, see you at 5"] == "web"
        assert len(smsc.received) == sms_before  # on the page, not by SMS

        await page.close()  # the customer leaves: the next reply goes by SMS

        async def by_sms() -> bool:
            answer = await api.post(f"/api/v2/conversations/{cid}/messages", json={"text": "Still coming?"})
            assert answer.status_code == 201, answer.text
            return bool(answer.json()["message"]["channel"] == "sms")

        await wait_until(by_sms, timeout=20, interval=0.5)
        await smsc.wait_for(lambda: any(r.text == "Still coming?" for r in smsc.received), timeout=20)
