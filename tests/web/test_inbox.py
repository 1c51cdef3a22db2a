"""The shared inbox in a real browser: live arrivals in every tab, reading, replying with the counter,
delivery state, members, and errors shown where they belong."""

from __future__ import annotations

import re

from playwright.async_api import BrowserContext, Page, expect

from tests.support.server import ParleyServer
from tests.support.smsc import SmscSimulator
from tests.web.conftest import BOB, CUSTOMER, SUPPORT, screenshot, sign_in


async def test_an_inbound_sms_appears_live_in_every_tab_and_bob_replies_until_delivered(
    console: ParleyServer, smsc: SmscSimulator, page: Page, context: BrowserContext
) -> None:
    await sign_in(page, console, BOB, "/inbox")
    second = await context.new_page()
    await second.goto(f"{console.url}/inbox")
    conversations = page.get_by_role("list", name="Conversations")
    await expect(conversations).to_contain_text("No conversations")

    smsc.send_mo(CUSTOMER, SUPPORT, "Hello, is my order ready?")

    # Without a reload, in both tabs: the customer's number, the text, and one unread message.
    item = conversations.get_by_role("link").filter(has_text=CUSTOMER)
    await expect(item).to_contain_text("Hello, is my order ready?")
    await expect(item.locator(".badge.unread")).to_contain_text("1")
    await expect(second.get_by_role("list", name="Conversations")).to_contain_text("Hello, is my order ready?")

    await item.click()
    await expect(page).to_have_url(f"{console.url}/inbox/{await item.get_attribute('data-conversation')}")
    timeline = page.get_by_role("list", name="Messages and events")
    await expect(timeline.locator(".bubble.in .bubble-text")).to_have_text("Hello, is my order ready?")
    await expect(item.locator(".badge.unread")).to_have_count(0)  # opening it marked it read

    composer = page.get_by_label(f"Reply to {CUSTOMER}")
    counter = page.locator("#composer-count")
    await composer.fill("Привет")
    await expect(counter).to_contain_text("UCS-2")
    await composer.fill("Yes, it is!")
    await expect(counter).to_contain_text("11 / 670 characters")
    await expect(counter).to_contain_text("GSM-7")
    await expect(counter).to_contain_text("1 SMS segment")
    await expect(composer).to_have_attribute("maxlength", "670")

    await page.get_by_role("button", name="Send").click()
    await expect(composer).to_have_value("")
    reply = timeline.locator(".bubble.out").filter(has_text="Yes, it is!")
    await expect(reply).to_contain_text("102")  # the agent who wrote it
    # The simulator answers with a DELRVD receipt; the badge follows it without a reload.
    await expect(reply.locator(".badge")).to_have_text("delivered", timeout=20_000)
    await smsc.wait_for(lambda: any(r.text == "Yes, it is!" for r in smsc.received), timeout=5)
    await expect(second.get_by_role("list", name="Conversations")).to_contain_text("Yes, it is!")
    await screenshot(page, "inbox")


async def test_members_panel_assigns_renames_and_shows_errors_next_to_fields(
    console: ParleyServer, smsc: SmscSimulator, page: Page
) -> None:
    await sign_in(page, console, BOB, "/inbox")
    smsc.send_mo(CUSTOMER, SUPPORT, "Can someone call me?")
    await page.get_by_role("link").filter(has_text="Can someone call me?").click()
    members = page.locator("#members-panel")
    await expect(members.get_by_role("list", name="Participants")).to_contain_text("102")

    await members.get_by_role("button", name="Assign to me").click()
    await expect(page.locator("#conv-head")).to_contain_text("assigned to 102")
    await expect(page.get_by_label("Assigned to")).to_have_value("102")
    await expect(page.get_by_role("list", name="Messages and events")).to_contain_text("assigned it to 102")

    await page.get_by_label("Conversation name").fill("Order 4711")
    await members.get_by_role("button", name="Rename").click()
    await expect(page.locator("#conv-head h2")).to_have_text("Order 4711")
    await expect(page.get_by_role("list", name="Conversations")).to_contain_text("Order 4711")

    # A customer's number is not a member: the reason sits under the field.
    await page.get_by_label("Add member (extension or bot)").fill("+15550001111")
    await members.get_by_role("button", name="Add").click()
    await expect(page.locator("#e-member")).to_contain_text("Only internal users and bots")
    await expect(page.get_by_label("Add member (extension or bot)")).to_have_attribute("aria-invalid", "true")


async def test_new_conversation_refuses_a_bad_number_next_to_the_field_then_opens(
    console: ParleyServer, smsc: SmscSimulator, page: Page
) -> None:
    await sign_in(page, console, BOB, "/inbox")
    await page.get_by_role("link", name="New SMS conversation").click()
    await expect(page).to_have_url(f"{console.url}/inbox/new")
    await page.get_by_label("Customer number").fill("12")
    await page.get_by_role("button", name="Start conversation").click()
    await expect(page.locator("#e-to")).to_be_visible()
    await expect(page.get_by_label("Customer number")).to_have_attribute("aria-invalid", "true")

    await page.get_by_label("Customer number").fill("+15557654999")
    await page.get_by_label("Service", exact=True).select_option("Support")
    await page.get_by_role("button", name="Start conversation").click()
    await expect(page.locator("#conv-head")).to_contain_text("+15557654999")
    await expect(page).to_have_url(re.compile(r"/inbox/[0-9a-f]{20}$"))
    # A reply longer than 670 characters cannot even be typed.
    composer = page.get_by_label("Reply to +15557654999")
    await composer.fill("x" * 700)
    await expect(composer).to_have_value("x" * 670)
    await expect(page.locator("#composer-count")).to_contain_text("limit reached")
