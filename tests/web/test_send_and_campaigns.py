"""Send SMS, saved lists, campaigns and the blocklist in a real browser, against `parley serve` and an SMSC."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from parley.core.outbound import OutboundError
from parley.testing.smsc import SmscSimulator
from parley.web.send_page import numbers_in, read_local_time
from tests.support.server import ParleyServer
from tests.web.conftest import BOB, screenshot, sign_in

PBX_ZONE = ZoneInfo("America/New_York")  # tests/support/provisioning.py


@pytest_asyncio.fixture(loop_scope="session")
async def browser_page_for_bob(browser: Browser) -> AsyncIterator[Page]:
    """A second person, on a phone-sized screen."""
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    try:
        yield await context.new_page()
    finally:
        await context.close()


def tomorrow_in_the_pbx_zone() -> str:
    return (datetime.now(PBX_ZONE) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")


async def test_a_postponed_send_reports_each_number_queued_and_the_bad_one_refused(
    console: ParleyServer, page: Page
) -> None:
    await sign_in(page, console, path="/send")
    await page.get_by_label("Numbers").fill("12ab")
    await page.get_by_label("Message").fill("Your order is ready")
    await page.get_by_role("button", name="Send", exact=True).click()
    # Nothing could be sent: the form comes back with the reason under the numbers.
    await expect(page.locator("#e-numbers")).to_contain_text("only digits and a leading + are allowed")
    await expect(page.get_by_label("Numbers")).to_have_attribute("aria-invalid", "true")

    await page.get_by_label("Numbers").fill("+15557654321\n+15557654322, 12ab")
    await page.get_by_label("Message").fill("Your order is ready ✓")
    await expect(page.locator("#text-count")).to_have_text("21 characters · UCS-2 · 1 segment")
    await page.get_by_label(re.compile("^Send later")).fill(tomorrow_in_the_pbx_zone())
    await page.get_by_role("button", name="Send", exact=True).click()

    result = page.locator("#send-result")
    await expect(result.get_by_role("heading")).to_have_text("2 queued · 1 refused")
    await expect(result.locator("tr.queued")).to_have_count(2)
    await expect(result.locator("tr.queued").first).to_contain_text("scheduled")
    refused = result.locator("tr.refused")
    await expect(refused).to_contain_text("12ab")
    await expect(refused).to_contain_text("only digits and a leading + are allowed")
    # A fresh form for the next send: empty, without the last errors, the draft forgotten.
    await expect(page.get_by_label("Numbers")).to_have_value("")
    await expect(page.get_by_label("Message")).to_have_value("")
    await expect(page.locator("#e-numbers")).to_have_count(0)
    await expect(page.locator("#text-count")).to_have_text("0 characters · GSM-7 · 0 segments")
    assert await page.evaluate("localStorage.getItem('parley.draft.send-sms')") is None
    await screenshot(page, "send-sms")


async def test_a_send_now_reaches_the_smsc_and_the_counter_stops_at_670(
    console: ParleyServer, smsc: SmscSimulator, page: Page
) -> None:
    await sign_in(page, console, path="/send")
    await page.get_by_label("Message").fill("x" * 671)
    await expect(page.locator("#text-count")).to_have_text("671 characters · at most 670")
    await page.get_by_label("Message").fill("Hello from the console")
    await expect(page.locator("#text-count")).to_have_text("22 characters · GSM-7 · 1 segment")
    await page.get_by_label("Numbers").fill("+15557654321")
    await page.get_by_role("button", name="Send", exact=True).click()
    await expect(page.locator("#send-result").get_by_role("heading")).to_have_text("1 queued")
    await smsc.wait_for(lambda: any(r.text == "Hello from the console" for r in smsc.received), timeout=15)
    sent = next(r for r in smsc.received if r.text == "Hello from the console")
    assert sent.pdu.destination_addr.endswith("15557654321")


async def test_a_list_from_a_csv_becomes_a_personalised_campaign_that_completes(
    console: ParleyServer, smsc: SmscSimulator, page: Page, tmp_path: Path
) -> None:
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text(
        "number,name\n+15557650001,Ann\n+15557650002,Ben\nnot-a-number,Cat\n+15557650004,Dan\n+15557650005,Eve\n"
    )
    await sign_in(page, console, path="/lists")
    await page.get_by_label("New list name").fill("Spring customers")
    await page.get_by_role("button", name="Create list").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Spring customers")

    await page.get_by_label("CSV file", exact=True).set_input_files(str(csv_file))
    await page.get_by_role("button", name="Upload").click()
    report = page.locator(".upload-report")
    await expect(report.get_by_role("heading")).to_have_text("Upload: 4 added")
    await expect(report.locator("table.problems tbody tr")).to_have_count(1)
    await expect(report.locator("table.problems tbody tr td").first).to_have_text("4")  # line 4 of the file
    entries = page.locator("#entries-title + .table-wrap tbody tr")
    await expect(entries).to_have_count(4)

    # By hand: a number with its placeholder value, then taken out again; and a new name.
    await page.get_by_label("Number", exact=True).fill("+15557650009")
    await page.get_by_label("name", exact=True).fill("Zed")
    await page.get_by_role("button", name="Add", exact=True).click()
    await expect(entries).to_have_count(5)
    await expect(page.get_by_role("row", name=re.compile(r"\+15557650009"))).to_contain_text("Zed")
    await page.get_by_role("button", name="Remove +15557650009").click()
    await expect(entries).to_have_count(4)
    await page.get_by_label("List name").fill("Spring customers 2026")
    await page.get_by_role("button", name="Rename").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Spring customers 2026")

    await page.get_by_role("link", name="New campaign from this list").click()
    await page.get_by_label("Name", exact=True).fill("Spring sale")
    await page.get_by_label("Message").fill("Hi {name}, spring sale today")
    await expect(page.locator("#message-count")).to_have_text("28 characters · GSM-7 · 1 segment")
    await expect(page.get_by_label("Use a saved list")).to_be_checked()
    await page.get_by_role("button", name="Create draft").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Spring sale")
    await expect(page.locator("[data-counter=total]")).to_have_text("4")
    await page.get_by_role("button", name="Start", exact=True).click()
    await expect(page.locator("#campaign-status")).to_have_text("completed", timeout=25_000)
    await expect(page.locator("#campaign-percent")).to_have_text("100%")
    await expect(page.locator("[data-counter=delivered]")).to_have_text("4", timeout=10_000)
    await expect(page.locator("#campaign-progress")).not_to_have_attribute("hx-trigger", re.compile("every"))
    texts = sorted(r.text for r in smsc.received)
    assert texts == [f"Hi {n}, spring sale today" for n in ("Ann", "Ben", "Dan", "Eve")]
    await expect(page.locator("#campaign-recipients tbody tr")).to_have_count(4)
    await expect(page.get_by_role("link", name="Export CSV")).to_have_attribute("href", re.compile(r"recipients\.csv$"))
    await screenshot(page, "campaign")

    await page.get_by_role("link", name="← Campaigns").click()
    row = page.get_by_role("row", name=re.compile("Spring sale"))
    await expect(row).to_contain_text("completed")
    await expect(row).to_contain_text("4 / 4")

    # The list can go now: the campaign keeps its own recipients.
    await page.goto(f"{console.url}/lists")
    await page.get_by_role("link", name="Spring customers 2026").click()
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Delete list").click()
    await expect(page).to_have_url(f"{console.url}/lists")
    await expect(page.get_by_role("link", name="Spring customers 2026")).to_have_count(0)


async def test_a_campaign_from_a_csv_is_stopped_and_restarted(
    console: ParleyServer, page: Page, tmp_path: Path
) -> None:
    csv_file = tmp_path / "later.csv"
    csv_file.write_text("number,first_name\n+15557660001,Fay\n+15557660001,Fay again\n+15557660003,Gus\n")
    await sign_in(page, console, path="/campaigns/new")
    await page.get_by_label("Name", exact=True).fill("Next week")
    await page.get_by_label("Message").fill("Hello {name}")  # the file has first_name, not name
    await page.get_by_label("CSV file", exact=True).set_input_files(str(csv_file))
    await page.get_by_role("button", name="Create draft").click()
    await expect(page.locator("#e-message")).to_contain_text("name")
    await page.goto(f"{console.url}/campaigns")
    await expect(page.get_by_role("link", name="Next week")).to_have_count(0)  # the refused form saved nothing

    await page.goto(f"{console.url}/campaigns/new")
    await page.get_by_label("Name", exact=True).fill("Next week")
    await page.get_by_label("Message").fill("Hello {first_name}")
    await page.get_by_label("CSV file", exact=True).set_input_files(str(csv_file))
    await page.get_by_label(re.compile("^Start at")).fill(tomorrow_in_the_pbx_zone())
    await page.get_by_role("button", name="Create draft").click()
    await expect(page.locator("[data-counter=total]")).to_have_text("2")
    problems = page.locator("table.problems tbody tr")
    await expect(problems).to_have_count(1)
    await expect(problems.first).to_contain_text("3")  # the duplicate on line 3

    await page.get_by_role("button", name="Start", exact=True).click()
    await expect(page.locator("#campaign-status")).to_have_text("scheduled")
    await page.get_by_role("button", name="Stop", exact=True).click()
    await expect(page.locator("#campaign-status")).to_have_text("stopped")
    await expect(page.get_by_role("button", name="Stop", exact=True)).to_have_count(0)
    await page.get_by_role("button", name="Restart").click()
    await expect(page.locator("#campaign-status")).to_have_text("scheduled")
    await expect(page.locator("[data-counter=pending]")).to_have_text("2")


async def test_the_blocklist_takes_a_number_and_only_an_admin_removes_it(
    console: ParleyServer, page: Page, browser_page_for_bob: Page
) -> None:
    await sign_in(page, console, path="/blocklist")
    await page.get_by_label("Number to block").fill("555")
    await page.get_by_role("button", name="Block").click()
    await expect(page.locator("#e-number")).to_contain_text("not a valid phone number")

    await page.get_by_label("Number to block").fill("(555) 765-0099")
    await page.get_by_role("button", name="Block").click()
    await expect(page.get_by_role("status").filter(has_text="on the blocklist")).to_have_text(
        "+15557650099 is on the blocklist."
    )
    row = page.get_by_role("row", name=re.compile(r"\+15557650099"))
    await expect(row).to_contain_text("manual")

    bob = browser_page_for_bob
    await sign_in(bob, console, BOB, path="/blocklist")
    await expect(bob.get_by_role("row", name=re.compile(r"\+15557650099"))).to_be_visible()
    await expect(bob.get_by_role("button", name="Remove +15557650099")).to_have_count(0)

    page.once("dialog", lambda dialog: dialog.accept())
    await row.get_by_role("button", name="Remove +15557650099").click()
    await expect(page.get_by_role("row", name=re.compile(r"\+15557650099"))).to_have_count(0)


def test_numbers_may_be_one_a_line_or_separated_by_commas() -> None:
    assert numbers_in("+15557654321\n+15557654322, 12ab;\r\n\n 555 ") == ["+15557654321", "+15557654322", "12ab", "555"]


def test_a_send_later_time_is_read_in_the_pbx_zone() -> None:
    assert read_local_time("2026-11-24T17:30", "America/New_York").isoformat() == "2026-11-24T17:30:00-05:00"
    with pytest.raises(OutboundError) as bad:
        read_local_time("tomorrow", "UTC")
    assert bad.value.field == "postpone"
