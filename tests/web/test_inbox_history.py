"""A long conversation pages its history: the newest messages first, older pages on request (API and console)."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from parley.services.inbox_view import PAGE_SIZE
from tests.support.server import ParleyServer, wait_until
from tests.support.smsc import SmscSimulator
from tests.web.conftest import ALICE, CUSTOMER, SUPPORT, sign_in

MESSAGES = 105  # the console shows 100 per page


async def long_conversation(server: ParleyServer) -> str:
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE, timeout=30) as api:
        opened = await api.post("/api/v2/conversations", json={"to": CUSTOMER, "service": "Support"})
        assert opened.status_code == 201, opened.text
        cid = str(opened.json()["id"])
        for n in range(MESSAGES):
            posted = await api.post(f"/api/v2/conversations/{cid}/messages", json={"text": f"note {n}"})
            assert posted.status_code == 201, posted.text
    return cid


async def test_the_api_pages_a_timeline_with_the_older_cursor(console: ParleyServer) -> None:
    cid = await long_conversation(console)
    async with httpx.AsyncClient(base_url=console.url, auth=ALICE) as api:
        newest = (await api.get(f"/api/v2/conversations/{cid}/messages", params={"limit": 60})).json()
        assert [m["body"] for m in newest["messages"]] == [f"note {n}" for n in range(45, 105)]
        assert newest["events"] == []  # "opened" and "joined" happened before the oldest message shown
        assert newest["older"] == newest["messages"][0]["id"]
        rest = (
            await api.get(f"/api/v2/conversations/{cid}/messages", params={"limit": 60, "before": newest["older"]})
        ).json()
        assert [m["body"] for m in rest["messages"]] == [f"note {n}" for n in range(45)]
        assert rest["older"] is None
        assert {e["kind"] for e in rest["events"]} >= {"opened", "joined"}
        bad = await api.get(f"/api/v2/conversations/{cid}/messages", params={"before": "0" * 20})
        assert bad.status_code == 422


async def settled(server: ParleyServer, cid: str) -> None:
    """Wait until every message of the conversation is delivered: a status change refreshes an open timeline to
    its newest page, which would fold away an older page the test is looking at."""

    async def all_delivered() -> bool:
        async with httpx.AsyncClient(base_url=server.url, auth=ALICE, timeout=30) as api:
            answer = (await api.get(f"/api/v2/conversations/{cid}/messages", params={"limit": 200})).json()
        return {m["status"] for m in answer["messages"]} == {"delivered"}

    await wait_until(all_delivered, timeout=60)


async def test_the_console_shows_the_newest_page_and_older_ones_on_request(console: ParleyServer, page: Page) -> None:
    cid = await long_conversation(console)
    await settled(console, cid)
    await sign_in(page, console, ALICE, f"/inbox/{cid}")
    bubbles = page.get_by_role("list", name="Messages and events").locator(".bubble")
    await expect(bubbles).to_have_count(100)
    await expect(bubbles.first).to_contain_text("note 5")
    await page.get_by_role("button", name="Show older messages").click()
    await expect(bubbles).to_have_count(MESSAGES)
    await expect(bubbles.first).to_contain_text("note 0")
    await expect(page.get_by_role("button", name="Show older messages")).to_have_count(0)
    # The stretch before the first message comes with its system events, in order, at the top.
    await expect(page.locator(".timeline li").first).to_contain_text("opened the conversation")


async def test_a_live_refresh_keeps_the_older_page_of_the_list(
    console: ParleyServer, smsc: SmscSimulator, page: Page
) -> None:
    async with httpx.AsyncClient(base_url=console.url, auth=ALICE, timeout=30) as api:
        for n in range(PAGE_SIZE + 5):  # more conversations than one page
            opened = await api.post("/api/v2/conversations", json={"to": f"+1555700{n:04d}", "service": "Support"})
            assert opened.status_code == 201, opened.text
    await sign_in(page, console, ALICE, "/inbox")
    conversations = page.get_by_role("list", name="Conversations")
    await page.get_by_role("link", name="Older", exact=True).click()
    await expect(conversations.get_by_role("link")).to_have_count(5)  # the oldest five
    await expect(conversations).to_contain_text("+15557000000")

    async with page.expect_response(lambda r: "/inbox/list" in r.url, timeout=20_000) as refreshed:
        smsc.send_mo("+15557000050", SUPPORT, "Any news?")  # a newer conversation changes: the list refreshes live
    assert "after=" in (await refreshed.value).url  # asked for the page being shown, not the first
    await expect(page.get_by_role("link", name="Newest", exact=True)).to_be_visible()
    await expect(conversations.get_by_role("link")).to_have_count(5)
    await expect(conversations).to_contain_text("+15557000000")
