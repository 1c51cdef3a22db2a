"""Pictures and files in the shared inbox, in a real browser (issue 11 §5), against a `parley serve` whose company
number sends and receives MMS through a local "Twilio" (tests/support/fake_twilio.py).

The agent attaches files to a reply (each uploads at once; the composer shows its name and size, the total against
the MMS limit, the files that will be left out and the ones refused), and the MMS shows in the timeline as a
thumbnail. A customer's MMS with two pictures opens a conversation and shows both pictures; with the conversation
open, the next one appears live, its pictures "fetching…" until the workers have fetched them from "Twilio".
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Locator, Page, expect

from tests.support.fake_twilio import FakeTwilio, tiny_png
from tests.support.media_samples import GIF
from tests.support.provisioning import document
from tests.support.server import ParleyServer, wait_until
from tests.web.conftest import BOB, CUSTOMER, SUPPORT, sign_in

SID = "AC" + "7" * 32
TOKEN = "web-twilio-auth-token"
# A drop as the browser delivers it: a DataTransfer holding one file.
DROPPED_FILE = """(bytes) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(bytes)], "dropped.gif", { type: "image/gif" }));
    return transfer;
}"""
ALL_LOADED = "pictures => pictures.length > 0 && pictures.every((p) => p.complete && p.naturalWidth > 0)"


@pytest_asyncio.fixture(loop_scope="session")
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(account_sid=SID, auth_token=TOKEN) as fake:
        yield fake


@pytest_asyncio.fixture(loop_scope="session")
async def mms_console(tmp_path: Path, twilio: FakeTwilio) -> AsyncIterator[ParleyServer]:
    """`parley serve` with its workers (the dispatcher, the media fetcher); Support's number has MMS through the
    local "Twilio"; Bob (102) takes Support's conversations."""
    server = ParleyServer(tmp_path)
    server.env["PARLEY_PUBLIC_URL"] = server.url
    transport = {"name": "twilio", "role": "carrier", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN,
                 "api_base": twilio.url}  # fmt: skip
    numbers = [{"number": SUPPORT, "sms": True, "mms": True, "linked_service": "Support", "carrier": "twilio"}]
    doc = document(numbers=numbers, transports=[transport])
    doc["users"] = [{**u, "license": "business"} if u["extension"] == "102" else u for u in doc["users"]]
    server.apply(doc)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def all_loaded(pictures: Locator) -> bool:
    """Every picture was fetched and decoded by the browser (a broken image has naturalWidth 0)."""
    return bool(await pictures.evaluate_all(ALL_LOADED))


async def test_an_agent_attaches_a_picture_sees_limits_and_refusals_and_sends_it_as_an_mms(
    mms_console: ParleyServer, twilio: FakeTwilio, page: Page
) -> None:
    await sign_in(page, mms_console, BOB, "/inbox")
    await page.get_by_role("link", name="New SMS conversation").click()
    await expect(page).to_have_url(f"{mms_console.url}/inbox/new")  # the form swapped in: filled, it stays filled
    await page.get_by_label("Customer number").fill(CUSTOMER)
    await page.get_by_label("Service", exact=True).select_option("Support")
    await page.get_by_role("button", name="Start conversation").click()
    await expect(page.locator("#conv-head")).to_contain_text(CUSTOMER)
    # The conversation's live refresh after it opened, and console.js wired to the composer that stays: a file
    # chosen before either would go to a composer that is about to be replaced, or that nobody listens to yet.
    await expect(page.get_by_role("list", name="Messages and events")).to_contain_text("joined")
    await expect(page.locator("form[data-upload-url]")).to_have_attribute("data-attach-bound", "1")

    picture = tiny_png((20, 120, 200), size=16)
    attach = page.get_by_label("Attach files")
    await attach.set_input_files([{"name": "reply.png", "mimeType": "image/png", "buffer": picture}])
    files = page.get_by_role("list", name="Attached files")
    png = files.get_by_role("listitem").filter(has_text="reply.png")
    await expect(png).to_have_attribute("data-state", "ready")
    await expect(png).to_contain_text(f"{len(picture)} bytes")
    total = page.locator("#composer-total")
    await expect(total).to_have_text(f"Total {len(picture)} bytes of 3.5 MB · 1 of 10 files")

    # 3.6 MB more: over the MMS limit, so the last file will be left out (core/mms.py packs the same way).
    big = b"%PDF-1.7\n" + bytes(3_600_000)
    await attach.set_input_files([{"name": "big.pdf", "mimeType": "application/pdf", "buffer": big}])
    pdf = files.get_by_role("listitem").filter(has_text="big.pdf")
    await expect(pdf).to_have_attribute("data-state", "left-out")
    await expect(pdf).to_contain_text("will be left out: an MMS carries at most 3,500,000 bytes")
    await expect(total).to_contain_text("Over the MMS limit: big.pdf will be left out")
    await expect(total).to_contain_text("of 3.5 MB · 2 of 10 files")

    # Not an allowed type: the server's 415 reason, next to the file; it is not part of the MMS.
    tool = b"MZ\x90\x00\x03" + bytes(600)
    await attach.set_input_files([{"name": "tool.exe", "mimeType": "application/octet-stream", "buffer": tool}])
    exe = files.get_by_role("listitem").filter(has_text="tool.exe")
    await expect(exe).to_have_attribute("data-state", "error")
    await expect(exe).to_contain_text('"tool.exe" is not a type of file Parley takes')
    await expect(exe).to_contain_text("(415)")
    await expect(total).to_contain_text("2 of 10 files")
    await expect(files.locator('input[type="hidden"][name="media"]')).to_have_count(2)

    await page.get_by_label(f"Reply to {CUSTOMER}").fill("Here is the picture")
    await page.get_by_role("button", name="Send").click()
    feedback = page.locator("#composer-feedback")
    await expect(feedback).to_contain_text("Sent")
    await expect(feedback).to_contain_text("Left out of the MMS (not sent):")
    await expect(feedback).to_contain_text("big.pdf (3.6 MB): an MMS carries at most 3,500,000 bytes")
    await expect(files.get_by_role("listitem")).to_have_count(0)  # a fresh composer
    await expect(total).to_have_text("")

    timeline = page.get_by_role("list", name="Messages and events")
    await expect(timeline.locator(".bubble.out").filter(has_text="Here is the picture")).to_be_visible()
    thumbnail = timeline.locator(".bubble.out img.thumb")
    await expect(thumbnail).to_have_count(1)
    await expect(thumbnail).to_have_attribute("alt", "reply.png")
    await expect(thumbnail).to_have_attribute("loading", "lazy")
    full_size = re.compile(r"^/api/v2/media/[0-9a-f]+$")
    await expect(timeline.locator(".bubble.out a.media-thumb")).to_have_attribute("href", full_size)
    await wait_until(lambda: all_loaded(thumbnail), timeout=15)
    # A file dropped on the composer uploads the same way; Remove takes it off (and the focus goes back to the
    # attach button, which the keyboard reaches like any field).
    dropped = await page.evaluate_handle(DROPPED_FILE, list(GIF))
    await page.locator(".composer").dispatch_event("drop", {"dataTransfer": dropped})
    gif = files.get_by_role("listitem").filter(has_text="dropped.gif")
    await expect(gif).to_have_attribute("data-state", "ready")
    await expect(total).to_have_text(f"Total {len(GIF)} bytes of 3.5 MB · 1 of 10 files")
    await gif.get_by_role("button", name="Remove dropped.gif").click()
    await expect(files.get_by_role("listitem")).to_have_count(0)
    await expect(attach).to_be_focused()

    # The MMS went out through "Twilio" with the picture's signed URL.
    sent = await wait_until(lambda: next((r for r in twilio.requests if r.media_urls), None), timeout=20)
    [fetched] = await twilio.fetch_media_of(sent)
    assert (fetched.status, fetched.body) == (200, picture)


async def test_an_inbound_mms_with_two_pictures_opens_a_conversation_and_shows_them_live(
    mms_console: ParleyServer, twilio: FakeTwilio, page: Page
) -> None:
    await sign_in(page, mms_console, BOB, "/inbox")
    webhook = f"{mms_console.url}/api/v2/webhooks/twilio"
    first = await twilio.send_inbound(webhook, sender=CUSTOMER, to=SUPPORT, body="My broken screen", pictures=2)
    assert first.response.status_code == 200, first.response.text

    item = page.get_by_role("list", name="Conversations").get_by_role("link").filter(has_text=CUSTOMER)
    await expect(item).to_contain_text("My broken screen")
    await item.click()
    timeline = page.get_by_role("list", name="Messages and events")
    opened = timeline.locator(".bubble.in").filter(has_text="My broken screen")
    await expect(opened.locator("img.thumb")).to_have_count(2)
    await wait_until(lambda: all_loaded(opened.locator("img.thumb")), timeout=15)

    # With the conversation open, the next MMS. Its media URLs refuse Parley's credentials at first (as while the
    # account's token is being rotated): the message shows at once, its files "fetching…"; the fetcher's retry
    # (5 s later) gets them, and the pictures replace the notes without a reload (the `message.media` event).
    twilio.auth_token = "being-rotated"
    second = await twilio.send_inbound(
        webhook, sender=CUSTOMER, to=SUPPORT, body="From the side", pictures=2, auth_token=TOKEN
    )
    assert second.response.status_code == 200, second.response.text
    live = timeline.locator(".bubble.in").filter(has_text="From the side")
    await expect(live.locator(".media-note")).to_have_text(["Attachment: fetching…"] * 2)
    twilio.auth_token = TOKEN
    pictures = live.locator("img.thumb")
    await expect(pictures).to_have_count(2, timeout=30_000)
    await expect(live.locator(".media-note")).to_have_count(0)
    await wait_until(lambda: all_loaded(pictures), timeout=15)
    links = live.locator("a.media-thumb")
    for link in await links.all():
        href = await link.get_attribute("href")
        assert href is not None and href.startswith("/api/v2/media/")
        assert await link.locator("img").get_attribute("src") == href
