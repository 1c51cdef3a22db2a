"""WhatsApp in the console's inbox through the real app (issue 12 §4–§7): the composer's channel choice and window
counted with the server's clock, templates only once it closed (a free-form reply refused in the composer), replies
on the channel picked, and the timeline's channel tags, WhatsApp ticks and fallback route."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from parley.store.tables import messages
from tests.support.app import ALICE, InProcess, console_client, in_process
from tests.support.fake_meta import FakeMeta
from tests.support.provisioning import document

WEBHOOK = "/api/v2/webhooks/whatsapp"
COMPANY, CUSTOMER = "+15551230001", "+15557654321"
HTMX = {"HX-Request": "true"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def console_on_whatsapp(
    tmp_path: Path, meta: FakeMeta, clock: Clock, *, whatsapp: bool = True
) -> AsyncIterator[tuple[InProcess, httpx.AsyncClient, str]]:
    """The app with Support's number on WhatsApp (FakeMeta's account), and Alice signed in to the console."""
    transport = {"name": "wa-main", "role": "whatsapp", "kind": "whatsapp", "number": COMPANY,
                 "phone_number_id": meta.phone_number_id, "waba_id": meta.waba_id, "access_token": meta.access_token,
                 "app_secret": meta.app_secret, "verify_token": "verify", "api_base": meta.api_base}  # fmt: skip
    numbers = [{"number": COMPANY, "whatsapp": whatsapp, "sms": True, "linked_service": "Support"}]
    doc = document(numbers=numbers, transports=[transport] if whatsapp else [])
    async with in_process(tmp_path, doc, clock=clock) as app, app.client() as meta_client:
        meta.client = meta_client
        async with console_client(app, ALICE) as (client, csrf):
            yield app, client, csrf


async def customer_writes(app: InProcess, meta: FakeMeta, text: str, at: datetime) -> str:
    """A WhatsApp message from the customer, written at ``at`` by Meta's clock; the conversation's id."""
    answer = await meta.post(WEBHOOK, meta.inbound(text=text, timestamp=int(at.timestamp())))
    assert answer.status_code == 200
    await app.parley.router.route_due()
    async with app.client(ALICE) as api:
        [conversation] = (await api.get("/api/v2/conversations")).json()
    return str(conversation["id"])


def fieldset(page: str, marker: str) -> str:
    """The opening tag of the composer's fieldset carrying ``marker`` (data-free-text, data-template-part)."""
    found = re.search(r"<fieldset[^>]*" + marker + r"[^>]*>", page)
    assert found is not None, page
    return found.group(0)


async def test_the_composer_offers_whatsapp_and_counts_the_window_with_the_servers_clock(tmp_path: Path) -> None:
    clock = Clock()
    async with FakeMeta() as meta, console_on_whatsapp(tmp_path, meta, clock) as (app, console, _):
        cid = await customer_writes(app, meta, "Is my order ready?", clock.now - timedelta(hours=1))
        page = (await console.get(f"/inbox/{cid}", headers=HTMX)).text
        assert 'data-seconds-left="82800"' in page and "closes in <span" in page and "23:00:00" in page
        assert re.search(r'value="whatsapp" checked', page) and 'value="sms">' in page
        assert "hidden" not in fieldset(page, "data-free-text")
        assert "hidden disabled" in fieldset(page, "data-template-part")
        assert 'maxlength="4096"' in page  # a WhatsApp text, not an SMS

        clock.now += timedelta(hours=23, seconds=1)  # Meta's timestamp + 24 h has passed on the server
        async with console_client(app, ALICE) as (again, _):  # her session ended meanwhile (12 idle hours)
            closed = (await again.get(f"/inbox/{cid}", headers=HTMX)).text
        assert "WhatsApp window closed at" in closed and "only templates can be sent" in closed
        assert 'data-seconds-left="0"' in closed
        assert "hidden disabled" in fieldset(closed, "data-free-text")
        assert "hidden" not in fieldset(closed, "data-template-part")
        assert 'hx-get="/inbox/' + cid + '/templates"' in closed

        await customer_writes(app, meta, "Still there?", clock.now - timedelta(minutes=10))
        async with console_client(app, ALICE) as (again, _):
            banner = (await again.get(f"/inbox/{cid}/window", headers=HTMX)).text  # refetched on a new message
        assert 'data-seconds-left="85800"' in banner and "closes in" in banner


async def test_a_free_form_reply_after_the_window_is_refused_in_the_composer_and_tells_the_page(
    tmp_path: Path,
) -> None:
    clock = Clock()
    async with FakeMeta() as meta, console_on_whatsapp(tmp_path, meta, clock) as (app, console, csrf):
        written = clock.now - timedelta(hours=2)
        cid = await customer_writes(app, meta, "Hello?", written)
        clock.now += timedelta(hours=11)  # within the session's 12 idle hours, and it sees the page
        assert (await console.get(f"/inbox/{cid}", headers=HTMX)).status_code == 200
        clock.now += timedelta(hours=11, minutes=30)  # the page was rendered before; the send comes after the window
        form = {"text": "Sorry for the wait", "channel": "whatsapp", "csrf": csrf}
        refused = await console.post(f"/inbox/{cid}/messages", data=form, headers=HTMX)
        assert refused.status_code == 422
        assert 'id="e-text"' in refused.text and "24-hour customer-service window" in refused.text
        trigger = json.loads(refused.headers["HX-Trigger"])["inbox:window-closed"]
        assert trigger["text"].startswith("WhatsApp window closed at ") and "templates" in trigger["text"]
        assert meta.requests == []

        by_sms = await console.post(f"/inbox/{cid}/messages", data=form | {"channel": "sms"}, headers=HTMX)
        assert by_sms.status_code == 200, by_sms.text
        async with app.parley.db.read() as conn:
            sent = (await conn.execute(sa.select(messages.c.channel).where(messages.c.direction == "out"))).all()
        assert [r.channel for r in sent] == ["sms"]


async def test_a_number_not_on_whatsapp_keeps_the_plain_sms_composer(tmp_path: Path) -> None:
    clock = Clock()
    async with FakeMeta() as meta, console_on_whatsapp(tmp_path, meta, clock, whatsapp=False) as (_, console, csrf):
        opened = await console.post("/inbox/new", data={"to": CUSTOMER, "service": "Support", "csrf": csrf})
        cid = opened.headers["location"].rsplit("/", 1)[1]
        page = (await console.get(f"/inbox/{cid}", headers=HTMX)).text
        assert "Send by" not in page and "wa-window" not in page and "data-template-part" not in page
        assert 'maxlength="670"' in page
        assert (await console.get(f"/inbox/{cid}/window", headers=HTMX)).status_code == 204


async def test_the_timeline_shows_channels_whatsapp_ticks_templates_and_a_fallback_route(tmp_path: Path) -> None:
    clock = Clock()
    async with FakeMeta() as meta, console_on_whatsapp(tmp_path, meta, clock) as (app, console, csrf):
        cid = await customer_writes(app, meta, "Hi on WhatsApp", clock.now - timedelta(minutes=5))
        for text in ("Read on WhatsApp", "Went by SMS in the end", "A template"):
            posted = await console.post(f"/inbox/{cid}/messages", data={"text": text, "csrf": csrf}, headers=HTMX)
            assert posted.status_code == 200, posted.text
        route = [
            {"channel": "whatsapp", "at": "2026-11-30T10:02:00Z", "outcome": "failed", "code": "131026",
             "detail": "Message undeliverable"},
            {"channel": "sms", "at": "2026-11-30T10:03:00Z", "outcome": "queued"},
        ]  # fmt: skip
        changes: dict[str, dict[str, Any]] = {
            "Read on WhatsApp": {"status": "read"},
            "Went by SMS in the end": {"status": "delivered", "channel": "sms", "route": route},
            "A template": {"status": "delivered", "template": {"name": "order_update", "language": "en_US",
                                                                "variables": ["4711"], "header_media": None}},
        }  # fmt: skip
        async with app.parley.db.write() as conn:
            for body, values in changes.items():
                await conn.execute(messages.update().where(messages.c.body == body).values(**values))

        timeline = (await console.get(f"/inbox/{cid}/timeline", headers=HTMX)).text
        bubbles = {b: timeline[timeline.index(b) :][:1500] for b in (*changes, "Hi on WhatsApp")}
        assert 'data-channel="whatsapp">WhatsApp<' in bubbles["Hi on WhatsApp"]
        assert 'data-status="read"' in bubbles["Read on WhatsApp"] and "✓✓ read" in bubbles["Read on WhatsApp"]
        fell_back = bubbles["Went by SMS in the end"]
        assert 'data-channel="sms">SMS<' in fell_back
        assert "Tried WhatsApp at 05:02, failed with 131026 (Message undeliverable); sent by SMS at 05:03" in fell_back
        assert "template order_update" in bubbles["A template"]


async def test_after_the_window_the_agent_picks_an_approved_template_fills_it_previews_and_sends_it(
    tmp_path: Path,
) -> None:
    clock = Clock()
    async with FakeMeta() as meta, console_on_whatsapp(tmp_path, meta, clock) as (app, console, csrf):
        meta.add_template("order_update", "en_US", "UTILITY", "APPROVED", "Your order {{1}} is ready")
        meta.add_template("spring_sale", "en_US", "MARKETING", "PENDING", "Sale!")
        await app.parley.whatsapp_templates.sync_all()
        cid = await customer_writes(app, meta, "Where is it?", clock.now - timedelta(hours=25))

        picker = (await console.get(f"/inbox/{cid}/templates", headers=HTMX)).text
        assert 'value="order_update|en_US"' in picker and "spring_sale" not in picker  # approved ones only
        fields = (await console.get(f"/inbox/{cid}/templates/fields?template=order_update|en_US", headers=HTMX)).text
        assert fields.count('name="variables"') == 1 and "Variable {{1}}" in fields
        preview = f"/inbox/{cid}/templates/preview"
        blank = await console.get(preview, params={"template": "order_update|en_US", "variables": [""]}, headers=HTMX)
        assert "Your order {{1}} is ready" in blank.text
        filled = await console.get(preview, params={"template": "order_update|en_US", "variables": ["4711"]})
        assert "Your order 4711 is ready" in filled.text

        unknown = {"template": "no_such|en_US", "variables": ["4711"], "csrf": csrf}
        refused = await console.post(f"/inbox/{cid}/messages", data=unknown, headers=HTMX)
        assert refused.status_code == 422 and 'id="e-template"' in refused.text and "no_such" in refused.text

        form = {"template": "order_update|en_US", "variables": ["4711"], "send_at": "", "csrf": csrf}
        sent = await console.post(f"/inbox/{cid}/messages", data=form, headers=HTMX)
        assert sent.status_code == 200, sent.text
        async with app.parley.db.read() as conn:
            [row] = (await conn.execute(sa.select(messages).where(messages.c.direction == "out"))).all()
        assert (row.channel, row.body, row.template["variables"]) == ("whatsapp", "Your order 4711 is ready", ["4711"])
        timeline = (await console.get(f"/inbox/{cid}/timeline", headers=HTMX)).text
        assert "template order_update" in timeline


async def test_a_number_with_no_approved_template_says_so_in_the_picker(tmp_path: Path) -> None:
    clock = Clock()
    async with FakeMeta() as meta, console_on_whatsapp(tmp_path, meta, clock) as (app, console, _):
        cid = await customer_writes(app, meta, "Hi", clock.now - timedelta(hours=30))
        picker = (await console.get(f"/inbox/{cid}/templates", headers=HTMX)).text
        assert "has no approved WhatsApp template" in picker and "<select" not in picker


async def test_a_whatsapp_customers_file_shows_in_the_timeline_as_an_mms_does(tmp_path: Path) -> None:
    clock = Clock()
    async with FakeMeta() as meta, console_on_whatsapp(tmp_path, meta, clock) as (app, console, _):
        picture = meta.inbound(kind="image", part={"id": "media-77", "mime_type": "image/jpeg", "caption": "Look"})
        assert (await meta.post(WEBHOOK, picture)).status_code == 200
        await app.parley.router.route_due()
        async with app.client(ALICE) as api:
            [conversation] = (await api.get("/api/v2/conversations")).json()
        timeline = (await console.get(f"/inbox/{conversation['id']}/timeline", headers=HTMX)).text
        assert "Look" in timeline and 'data-media-state="pending"' in timeline and "Attachment: fetching" in timeline


async def test_a_customer_without_a_phone_number_is_answered_on_whatsapp_only(tmp_path: Path) -> None:
    clock = Clock()
    async with FakeMeta() as meta, console_on_whatsapp(tmp_path, meta, clock) as (app, console, _):
        bsuid = "US.13491208655302741918"
        message = {"from_user_id": bsuid, "id": "wamid.bsuid1", "timestamp": str(int(clock.now.timestamp())),
                   "type": "text", "text": {"body": "No number here"}}  # fmt: skip
        contact = {"profile": {"name": "Kerry", "username": "@kerry"}, "user_id": bsuid}
        assert (await meta.post(WEBHOOK, meta.envelope({"contacts": [contact], "messages": [message]}))).is_success
        await app.parley.router.route_due()
        async with app.client(ALICE) as api:
            [conversation] = (await api.get("/api/v2/conversations")).json()
        page = (await console.get(f"/inbox/{conversation['id']}", headers=HTMX)).text
        assert f"Reply to WhatsApp user {bsuid}" in page
        assert 'value="sms" disabled' in page and 'value="whatsapp" checked' in page
        assert "WhatsApp only" in page
