"""SMS statistics and the SMS report in a real browser: the chart, per-user counts and cost, filters, CSV export."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Browser, Page, expect

from parley.testing.smsc import SmscSimulator
from tests.support.server import ParleyServer, wait_until
from tests.web.conftest import ALICE, BOB, CUSTOMER, SUPPORT, screenshot, sign_in


async def send_as_alice(server: ParleyServer, *bodies: dict[str, str]) -> list[str]:
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as client:
        ids = []
        for body in bodies:
            response = await client.post("/api/v2/messages", json={"to": CUSTOMER, **body})
            assert response.status_code == 201, response.text
            ids.extend(m["id"] for m in response.json()["messages"])
        return ids


async def test_alice_sees_the_chart_and_her_count_and_cost_past_the_package(
    console: ParleyServer, smsc: SmscSimulator, page: Page
) -> None:
    # Alice's package is 2 SMS a month: the third is charged at the +1 price, 0.0079 USD.
    await send_as_alice(console, {"text": "one"}, {"text": "two"}, {"text": "three"})
    await smsc.wait_for(lambda: len(smsc.received) >= 3, timeout=10)
    await sign_in(page, console, ALICE, path="/stats")
    await expect(page.get_by_role("heading", name="SMS Statistics")).to_be_visible()
    chart = page.get_by_role("img", name="Messages per day")
    await expect(chart).to_be_visible()
    await expect(chart.locator("rect.bar-out")).to_have_count(1)  # three sent today: one bar
    await expect(chart.locator("rect.bar-out title")).to_contain_text(": 3 sent")
    alice = page.locator('#by-user tr[data-extension="101"]')
    await expect(alice.locator(".sent")).to_have_text("3")
    await expect(alice.locator(".segments")).to_have_text("3")
    await expect(alice.locator(".cost")).to_have_text("0.0079 USD")
    await expect(alice.locator(".quota")).to_contain_text("3 of 2")
    await expect(alice.locator(".mms-sent")).to_have_text("0")  # SMS only: MMS are counted apart
    await expect(page.locator("#total-mms-out")).to_have_text("0")
    await expect(page.locator("#by-number")).to_contain_text(SUPPORT)
    await screenshot(page, "statistics")
    # The same numbers as a table, for screen readers and copying.
    await page.get_by_text("Messages per day as a table").click()
    today = datetime.now(ZoneInfo("America/New_York")).date().isoformat()  # the test PBX's zone
    await expect(page.locator(".stats-days tbody tr").filter(has_text=today).locator("td")).to_have_text(["3", "0"])

    # An admin narrows to one user; Bob has sent nothing.
    await page.get_by_label("User", exact=True).select_option("102")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("#total-out")).to_have_text("0")
    await expect(page.locator('#by-user tr[data-extension="101"]')).to_have_count(0)

    # A custom period that ends before it starts is refused next to the field.
    await page.get_by_label("Period").select_option("custom")
    await page.get_by_label("First day").fill("2026-11-20")
    await page.get_by_label("Last day").fill("2026-11-01")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("#e-last")).to_have_text("the end is before the start")
    await expect(page.get_by_label("Last day")).to_have_attribute("aria-invalid", "true")


async def test_the_report_filters_by_status_and_exports_the_matching_rows_as_csv(
    console: ParleyServer, smsc: SmscSimulator, page: Page
) -> None:
    await send_as_alice(console, {"text": "now"}, {"text": "later, €", "send_at": "2099-01-01T09:00:00+00:00"})
    await smsc.wait_for(lambda: len(smsc.received) >= 1, timeout=10)
    await sign_in(page, console, ALICE, path="/stats/messages")
    await expect(page.locator("#report tbody tr")).to_have_count(2)
    await page.get_by_label("Status").select_option("scheduled")
    await page.get_by_role("button", name="Filter").click()
    await expect(page).to_have_url(re.compile(r"status=scheduled"))
    rows = page.locator("#report tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("later, €")
    await screenshot(page, "sms-report")

    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Export CSV").click()
    download = await waiting.value
    path = await download.path()
    content = path.read_bytes().decode("utf-8")
    table = list(csv.reader(io.StringIO(content)))
    assert table[0][:5] == ["id", "time", "direction", "from", "to"]
    assert len(table) == 2  # the header and the one scheduled message
    row = dict(zip(table[0], table[1], strict=True))
    assert (row["status"], row["text"], row["to"], row["user"], row["channel"]) == (
        "scheduled", "later, €", CUSTOMER, "101", "sms"
    )  # fmt: skip
    assert row["time"].endswith(("-05:00", "-04:00"))  # the PBX zone (America/New_York) with its offset


async def test_an_agent_sees_only_their_own_figures(
    console: ParleyServer, smsc: SmscSimulator, browser: Browser
) -> None:
    await send_as_alice(console, {"text": "from alice"})
    smsc.send_mo(CUSTOMER, SUPPORT, "hello support")  # Support's members, Alice and Bob, join the conversation
    async with httpx.AsyncClient(base_url=console.url, auth=ALICE) as client:  # an admin sees every conversation

        async def in_bobs_conversations() -> bool:
            found = (await client.get("/api/v2/conversations")).json()
            return any("102" in c["participants"] for c in found)

        await wait_until(in_bobs_conversations, timeout=15)
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await sign_in(page, console, BOB, path="/stats")
        await expect(page.locator('#by-user tr[data-extension="102"] .received')).to_have_text("1")
        await expect(page.locator("#by-user tbody tr")).to_have_count(1)
        await expect(page.locator("#total-out")).to_have_text("0")  # Alice's message is not Bob's
        await expect(page.get_by_label("User", exact=True)).to_have_count(0)
        await page.goto(f"{console.url}/stats/messages")
        await expect(page.locator("#report tbody tr")).to_have_count(1)
        await expect(page.locator("#report")).to_contain_text("hello support")
        await expect(page.locator("#report")).not_to_contain_text("from alice")
    finally:
        await context.close()
