"""The admin area in a real browser: number settings that route out of hours, validation, users, transports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.support.http_sink import HttpSink
from tests.support.server import ParleyServer
from tests.support.smsc import SmscSimulator
from tests.web.conftest import BOB, CUSTOMER, SUPPORT, screenshot, sign_in

NUMBER_PAGE = "/admin/numbers/%2B15551230001"


def closed_range() -> str:
    """A range that excludes the present moment (from 2 to 3 hours from now, UTC)."""
    now = datetime.now(UTC)
    return f"{now + timedelta(hours=2):%H:%M}-{now + timedelta(hours=3):%H:%M}"


async def add_bot(page: Page, name: str, message: str) -> None:
    await page.get_by_role("link", name="Admin", exact=True).click()
    await page.get_by_role("link", name="Bots").click()
    await page.get_by_label("Bot name").fill(name)
    await page.get_by_label("Message").fill(message)
    await page.get_by_role("button", name="Add bot").click()
    await expect(page.get_by_role("cell", name=message)).to_be_visible()


async def test_out_of_hours_routing_set_in_the_console_sends_the_bots_answer(
    console: ParleyServer, smsc: SmscSimulator, page: Page
) -> None:
    await sign_in(page, console, path="/admin")
    await add_bot(page, "Night bot", "We are closed; we answer from 9am.")
    await page.goto(f"{console.url}/admin/numbers")
    await page.get_by_role("link", name=SUPPORT).click()
    await expect(page.get_by_role("heading", name=f"Number {SUPPORT}")).to_be_visible()

    await page.get_by_role("button", name="Add a rule").click()
    await expect(page.get_by_label("Rule 1 time ranges")).to_be_visible()
    await page.get_by_label("Use working hours").check()
    await page.get_by_label("Time zone").select_option("UTC")
    for day in ("sat", "sun"):
        await page.locator(f'input[name="rule0_days"][value="{day}"]').check()
    await page.get_by_label("Rule 1 time ranges").fill(closed_range())
    await page.get_by_label("Out-of-hours routing").select_option("bot:Night bot")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_text("Saved.")).to_be_visible()
    await expect(page.get_by_label("Out-of-hours routing")).to_have_value("bot:Night bot")
    await screenshot(page, "admin-number")

    smsc.send_mo(CUSTOMER, SUPPORT, "hi")
    await smsc.wait_for(lambda: any("We are closed" in r.text for r in smsc.received), timeout=15)
    answer = next(r for r in smsc.received if "We are closed" in r.text)
    assert answer.pdu.destination_addr.lstrip("+") == CUSTOMER.lstrip("+")


async def test_bad_hours_and_durations_are_shown_next_to_their_fields_and_nothing_is_saved(
    console: ParleyServer, page: Page
) -> None:
    await sign_in(page, console, path=NUMBER_PAGE)
    await page.get_by_role("button", name="Add a rule").click()
    await page.get_by_label("Rule 1 time ranges").fill("25:00-26:00")
    await page.get_by_role("button", name="Add an action").click()
    await page.get_by_label("Action 1 name").fill("Nudge")
    await page.get_by_label("Action 1 condition 1", exact=True).select_option("no_reply")
    await page.get_by_label("Action 1 condition 1 for").fill("2 s")
    await page.get_by_label("Action 1 task").select_option("members")
    await page.get_by_label("Action 1 members to add").fill("102")
    await page.get_by_role("button", name="Save settings").click()

    await expect(page.locator("#e-rule0_ranges")).to_contain_text('"25:00-26:00" is not a time range within a day')
    await expect(page.get_by_label("Rule 1 time ranges")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#e-action0_cond0_after")).to_contain_text("shorter than 5 seconds")
    await expect(page.get_by_label("Action 1 condition 1 for")).to_have_value("2 s")  # what was typed is kept
    await page.reload()
    await expect(page.get_by_label("Rule 1 time ranges")).to_have_count(0)  # nothing half-saved
    await expect(page.get_by_label("Action 1 name")).to_have_count(0)


async def test_a_user_created_in_the_console_can_sign_in(console: ParleyServer, page: Page, browser: Browser) -> None:
    await sign_in(page, console, path="/admin/users/new")
    await page.get_by_label("Extension").fill("110")
    await page.get_by_label("Name").fill("Dana New")
    await page.get_by_label("Licence").select_option("business")
    await page.get_by_label("Office number").fill("(555) 123-0001")
    await page.get_by_label("Password").fill("short")
    await page.get_by_role("button", name="Add user").click()
    await expect(page.locator("#e-password")).to_have_text("must be at least 6 characters")
    await page.get_by_label("Password").fill("dana-secret")
    await page.get_by_role("button", name="Add user").click()
    await expect(page).to_have_url(f"{console.url}/admin/users")
    row = page.get_by_role("row").filter(has_text="Dana New")
    await expect(row).to_contain_text("+15551230001")  # the national number, stored in E.164
    await expect(row).to_contain_text("business")

    dana = await browser.new_context()
    try:
        other = await dana.new_page()
        await sign_in(other, console, ("110", "dana-secret"), path="/inbox")
        await expect(other.get_by_text("Dana New (110)")).to_be_visible()
        await expect(other.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    finally:
        await dana.close()


async def test_an_admin_cannot_delete_himself(console: ParleyServer, page: Page, context: BrowserContext) -> None:
    await sign_in(page, console, path="/admin/users")
    await expect(page.get_by_role("button", name="Delete user 102")).to_be_visible()
    await expect(page.get_by_role("button", name="Delete user 101")).to_have_count(0)
    token = next(c["value"] for c in await context.cookies() if c["name"] == "parley_session")
    csrf = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    async with httpx.AsyncClient(base_url=console.url, cookies={"parley_session": token}) as client:
        response = await client.post("/admin/users/101/delete", data={"csrf": csrf or ""})
    assert response.status_code == 409
    assert "cannot delete yourself" in response.text


async def test_the_transports_page_shows_the_carrier_bound(console: ParleyServer, page: Page) -> None:
    await sign_in(page, console, path="/admin/transports")
    row = page.get_by_role("row").filter(has_text="carrier")
    # Workers report every 2 s and the page refreshes its rows every 5 s.
    await expect(row.locator("[data-state]")).to_have_text("bound", timeout=15_000)
    await expect(row).to_contain_text("127.0.0.1")
    await screenshot(page, "admin-transports")


async def test_a_curl_line_added_in_the_console_sends_a_test_sms_right_away(console: ParleyServer, page: Page) -> None:
    async with HttpSink(status=200, body='{"sid": "SM42"}') as sink:
        await sign_in(page, console, path="/admin/transports/new?kind=curl")
        await page.get_by_label("Name").fill("sms-server")
        await page.get_by_label("curl command").fill(f"curl -X POST {sink.url}/send -d 'to={{TO_NUMBER}}'")
        await page.get_by_role("button", name="Add transport").click()
        await expect(page.locator("#e-command")).to_contain_text("{MESSAGE}")
        command = f"curl -X POST {sink.url}/send -d 'to={{TO_NUMBER}}&text={{MESSAGE}}'"
        await page.get_by_label("curl command").fill(command)
        await page.get_by_role("button", name="Add transport").click()
        await expect(page.get_by_role("heading", name="Transport sms-server")).to_be_visible()

        await page.get_by_label("Test number").fill(CUSTOMER)
        await page.get_by_label("Test text").fill("Hello & welcome")
        await page.get_by_role("button", name="Send test").click()
        outcome = page.locator(".test-outcome")
        await expect(outcome).to_contain_text("Sent")
        await expect(outcome).to_contain_text("HTTP 200")
        await expect(outcome).to_contain_text("SM42")
        assert len(sink.requests) == 1
        assert sink.requests[0].path == "/send"
        assert sink.requests[0].form == {"to": [CUSTOMER], "text": ["Hello & welcome"]}

        sink.answer(status=503, body="maintenance")
        await page.get_by_role("button", name="Send test").click()
        await expect(outcome).to_contain_text("Failed")
        await expect(outcome).to_contain_text("HTTP 503")
        await expect(outcome).to_contain_text("maintenance")


async def test_a_non_admin_is_refused_the_admin_area(console: ParleyServer, page: Page) -> None:
    await sign_in(page, console, BOB, path="/inbox")
    await expect(page.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    for path in ("/admin", "/admin/users", NUMBER_PAGE, "/admin/transports"):
        response = await page.goto(f"{console.url}{path}")
        assert response is not None
        assert response.status == 403, path
        await expect(page.get_by_text("Administrators only")).to_be_visible()


async def test_a_new_number_gets_an_action_that_is_kept_as_saved(console: ParleyServer, page: Page) -> None:
    await sign_in(page, console, path="/admin/bots")
    await page.get_by_label("Bot name").fill("Nudger")
    await page.get_by_label("Message").fill("Someone will answer soon.")
    await page.get_by_role("button", name="Add bot").click()
    await page.goto(f"{console.url}/admin/numbers/new")
    await page.get_by_label("Number").fill("(555) 123-0002")
    await page.get_by_label("Linked service").select_option("Support")
    await page.get_by_label("MMS").check()
    await page.get_by_role("button", name="Add number").click()
    await expect(page.get_by_role("heading", name="Number +15551230002")).to_be_visible()

    await page.get_by_role("button", name="Add a rule").click()
    await expect(page.get_by_label("Rule 1 time ranges")).to_be_visible()  # each click re-renders the form
    await page.get_by_role("button", name="Add a rule").click()
    await page.get_by_label("Rule 2 time ranges").fill("13:00-14:00")
    await page.get_by_role("button", name="Remove rule 1").click()
    await expect(page.get_by_label("Rule 2 time ranges")).to_have_count(0)
    await expect(page.get_by_label("Rule 1 time ranges")).to_have_value("13:00-14:00")  # the second became the first
    await page.get_by_role("button", name="Add an action").click()
    await page.get_by_label("Action 1 name").fill("Nudge")
    await page.get_by_label("Action 1 condition 1", exact=True).select_option("no_reply")
    await page.get_by_label("Action 1 condition 1 for").fill("5m")
    await page.get_by_label("Action 1 condition 2", exact=True).select_option("not_read")
    await page.get_by_label("Action 1 condition 2 for").fill("90s")
    await page.get_by_label("Action 1 bot", exact=True).select_option("Nudger")
    await page.get_by_label("Action 1 bot message").fill("Thanks, an agent will answer shortly.")
    await page.get_by_label("Once per conversation").check()
    await page.get_by_label("Routing", exact=True).select_option("agent:102")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_text("Saved.")).to_be_visible()

    await page.reload()
    await expect(page.get_by_label("Rule 1 time ranges")).to_have_value("13:00-14:00")
    await expect(page.get_by_label("Action 1 condition 2 for")).to_have_value("1m30s")
    await expect(page.get_by_label("Action 1 bot message")).to_have_value("Thanks, an agent will answer shortly.")
    await expect(page.get_by_label("Once per conversation")).to_be_checked()
    await page.goto(f"{console.url}/admin/numbers")
    row = page.get_by_role("row").filter(has_text="+15551230002")
    await expect(row).to_contain_text("SMS, MMS")
    await expect(row).to_contain_text("agent 102")
    await expect(row).to_contain_text("1 action")
    await expect(page.get_by_role("row").filter(has_text="+15551230001")).to_contain_text("None")


async def test_prices_and_mail2sms_are_edited_with_errors_next_to_their_fields(
    console: ParleyServer, page: Page
) -> None:
    await sign_in(page, console, path="/admin/prices")
    await page.get_by_label("Prefix", exact=True).fill("49")
    await page.get_by_label("Price", exact=True).fill("cheap")
    await page.get_by_label("Currency").fill("EUR")
    await page.get_by_role("button", name="Add price").click()
    await expect(page.locator("#e-prefix")).to_have_text('"49" must be + followed by digits')
    await expect(page.locator("#e-price")).to_contain_text("is not a price")
    await page.get_by_label("Prefix", exact=True).fill("+49")
    await page.get_by_label("Price", exact=True).fill("0.05")
    await page.get_by_label("MMS price").fill("0.25")
    await page.get_by_role("button", name="Add price").click()
    await expect(page.get_by_role("row").filter(has_text="+49")).to_contain_text("0.05")
    await expect(page.get_by_role("row").filter(has_text="+49")).to_contain_text("0.25")
    page.once("dialog", lambda dialog: dialog.accept())  # "Delete price +44?"
    await page.get_by_role("button", name="Delete price +44").click()
    await expect(page.get_by_role("link", name="+44", exact=True)).to_have_count(0)

    await page.goto(f"{console.url}/admin/mail2sms")
    await page.get_by_label("Mail2SMS enabled").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#e-password")).to_contain_text("is required")
    await page.get_by_label("Protection password").fill("mail-secret")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Saved.")).to_be_visible()
    await expect(page.get_by_label("Mail2SMS enabled")).to_be_checked()
    await expect(page.get_by_text("A password is set")).to_be_visible()
    await page.get_by_label("Allowed senders").fill("*@example.com\nexample.org")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#e-allowed_senders")).to_contain_text('"example.org" is not an address pattern')
    await page.get_by_label("Allowed senders").fill("*@example.com\nops@example.org")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Saved.")).to_be_visible()
    await expect(page.get_by_label("Allowed senders")).to_have_value("*@example.com\nops@example.org")


async def test_a_service_is_created_edited_and_deleted(console: ParleyServer, page: Page) -> None:
    await sign_in(page, console, path="/admin/services/new")
    await page.get_by_label("Name").fill("Sales")
    await page.get_by_label("Static members").fill("101, 999")
    await page.get_by_role("button", name="Add service").click()
    await expect(page.locator("#e-static_members")).to_have_text('"999" is not a user in this file')
    await page.get_by_label("Static members").fill("101")
    await page.get_by_label("Dynamic members").fill("102, 103")
    await page.get_by_label("SMS number").fill("555-123-0009")
    await page.get_by_role("button", name="Add service").click()
    row = page.get_by_role("row").filter(has_text="Sales")
    await expect(row).to_contain_text("+15551230009")
    await expect(row).to_contain_text("102, 103")

    await page.get_by_role("link", name="Sales").click()
    await page.get_by_label("Name").fill("Sales team")
    await page.get_by_label("Dynamic members").fill("")
    await page.get_by_role("button", name="Save").click()
    row = page.get_by_role("row").filter(has_text="Sales team")
    await expect(row).not_to_contain_text("102")
    page.once("dialog", lambda dialog: dialog.dismiss())  # cancelled: nothing happens
    await page.get_by_role("button", name="Delete service Sales team").click()
    await page.reload()
    await expect(page.get_by_role("link", name="Sales team")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Delete service Sales team").click()
    await expect(page.get_by_role("link", name="Sales team")).to_have_count(0)
    await expect(page.get_by_role("link", name="Support")).to_be_visible()
