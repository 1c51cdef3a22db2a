"""A campaign on WhatsApp from the console (issue 12 §8): pick the channel and an approved template, its variables
from the CSV's columns; a column the file does not have is refused under the variables."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Page, expect

from tests.support.fake_meta import FakeMeta
from tests.support.provisioning import document
from tests.support.server import ParleyServer
from tests.support.whatsapp_seed import synced
from tests.web.conftest import ALICE, sign_in

COMPANY = "+15551230001"


@pytest_asyncio.fixture(loop_scope="session")
async def whatsapp_console(tmp_path: Path) -> AsyncIterator[ParleyServer]:
    """`parley serve` with a company number on WhatsApp (its Graph API local): two approved templates, one pending."""
    async with FakeMeta() as meta:
        transport = {"name": "wa-main", "role": "whatsapp", "kind": "whatsapp", "number": COMPANY,
                     "phone_number_id": meta.phone_number_id, "waba_id": meta.waba_id,
                     "access_token": meta.access_token, "app_secret": meta.app_secret, "verify_token": "verify-me",
                     "api_base": meta.api_base}  # fmt: skip
        numbers = [{"number": COMPANY, "sms": True, "whatsapp": True, "linked_service": "Support"}]
        server = ParleyServer(tmp_path)
        server.apply(document(numbers=numbers, transports=[transport]))
        meta.add_template("spring_sale", "en_US", "MARKETING", "APPROVED", "Hi {{1}}, {{2}} off this spring")
        meta.add_template("order_ready", "en_US", "UTILITY", "APPROVED", "Your order {{1}} is ready")
        meta.add_template("winter_sale", "en_US", "MARKETING", "PENDING", "Hi {{1}}, winter is coming")
        await server.start()
        try:
            await synced(server, ALICE, approved=2)  # the templates are synced from the local Graph API at start
            yield server
        finally:
            await server.close()


async def test_a_whatsapp_campaign_is_created_by_picking_an_approved_template(
    whatsapp_console: ParleyServer, page: Page, tmp_path: Path
) -> None:
    csv_file = tmp_path / "spring.csv"
    csv_file.write_text("number,first_name\n+15557660001,Fay\n+15557660002,Gus\n")
    await sign_in(page, whatsapp_console, path="/campaigns/new")
    await page.get_by_label("Name", exact=True).fill("Spring on WhatsApp")
    await expect(page.get_by_label("Approved template")).to_be_hidden()  # SMS first: the message, no template
    await page.get_by_label("WhatsApp", exact=True).check()
    await expect(page.get_by_label("Message")).to_be_hidden()
    template = page.get_by_label("Approved template")
    await expect(template.locator("option")).to_have_count(3)  # "Choose a template" and the approved two
    await template.select_option(label="spring_sale (en_US): Hi {{1}}, {{2}} off this spring")
    await page.get_by_label("Template variables").fill("{firstname}\n20%")
    await page.get_by_label("Company number").select_option(COMPANY)
    await page.get_by_label("CSV file", exact=True).set_input_files(str(csv_file))
    await page.get_by_role("button", name="Create draft").click()
    await expect(page.locator("#e-whatsapp_variables")).to_contain_text("did you mean {first_name}")
    await expect(page.get_by_label("Template variables")).to_have_value("{firstname}\n20%")

    await page.get_by_label("Template variables").fill("{first_name}\n20%")
    await page.get_by_label("CSV file", exact=True).set_input_files(str(csv_file))
    await page.get_by_role("button", name="Create draft").click()
    await expect(page.locator("#campaign-channel")).to_have_text("WhatsApp, template spring_sale (en_US)")
    await expect(page.locator(".template-text")).to_have_text("Hi {first_name}, 20% off this spring")
    await expect(page.locator("[data-counter=total]")).to_have_text("2")
