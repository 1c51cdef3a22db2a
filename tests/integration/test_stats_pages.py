"""The statistics pages, the report and its CSV with SMS and MMS counted apart (issue 11 §6), and the MMS price
on the admin's price pages: rendered by the real app in-process."""

from __future__ import annotations

import csv
import html
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from parley.bootstrap import utcnow
from parley.services.send import charge_rows, outbound_row
from parley.store import messages as message_store
from parley.store.ids import new_id
from tests.support.app import ALICE, InProcess, console_client, in_process
from tests.support.media_samples import PNG
from tests.support.provisioning import document

SUPPORT, CUSTOMER = "+15551230001", "+15557654321"
SID = "AC" + "7" * 32


def with_mms_price() -> dict[str, Any]:
    doc = document()
    doc["prices"] = [{"prefix": "+1", "price": "0.0079", "currency": "USD", "mms_price": "0.02"}]
    return doc


async def alice_sends_sms_and_mms_and_a_customer_sends_mms(app: InProcess) -> None:
    """Alice (package of 2) sends 3 SMS and 2 MMS; a customer sends her company number an MMS."""
    alice = await app.parley.cache.user("101")
    assert alice is not None
    config = await app.parley.cache.config()
    now = utcnow()

    def out(mms: bool) -> dict[str, Any]:
        row = outbound_row(
            sender=SUPPORT, to=CUSTOMER, text="" if mms else "hi", now=now, user_id=alice.id, source="api"
        )
        return {**row, "channel": "mms", "segments": 1} if mms else row

    rows = [out(False), out(False), out(False), out(True), out(True)]
    inbound = {
        **out(False), "id": new_id(), "direction": "in", "user_id": None, "sender": CUSTOMER, "recipient": SUPPORT,
        "body": "", "status": "received", "channel": "mms",
    }  # fmt: skip
    async with app.parley.db.write() as conn:
        await charge_rows(conn, alice, rows, month=now.strftime("%Y-%m"), prices=config.prices)
        await message_store.add_all(conn, [*rows, inbound])


def cell(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', page)
    assert found is not None, element_id
    return html.unescape(found.group(1)).strip()


async def test_the_overview_shows_sms_and_mms_apart_and_the_cost_of_both(tmp_path: Path) -> None:
    async with in_process(tmp_path, with_mms_price()) as app:
        await alice_sends_sms_and_mms_and_a_customer_sends_mms(app)
        async with console_client(app, ALICE) as (alice, _):
            page = (await alice.get("/stats")).text
    totals = {key: cell(page, f"total-{key}") for key in ("out", "in", "segments", "mms-out", "mms-in")}
    assert totals == {"out": "3", "in": "0", "segments": "3", "mms-out": "2", "mms-in": "1"}
    # One SMS past the package (0.0079) and two MMS at 0.02 each, which the package does not cover.
    assert cell(page, "total-cost") == "0.0479 USD"
    assert "(MMS 0.04 USD)" in page
    row = re.search(r'<tr data-extension="101">(.*?)</tr>', page, re.S)
    assert row is not None
    by_class = dict(re.findall(r'<td class="([a-z-]+)">([^<]*)', row.group(1)))
    assert {k: by_class[k] for k in ("sent", "segments", "mms-sent", "cost")} == {
        "sent": "3", "segments": "3", "mms-sent": "2", "cost": "0.0479 USD"
    }  # fmt: skip
    assert "3 of 2" in row.group(1)  # the package counts the SMS only
    number = re.search(rf"<tr><th scope=\"row\">{re.escape(SUPPORT)}</th>(.*?)</tr>", page)
    assert number is not None
    assert re.findall(r"<td>(\d+)</td>", number.group(1)) == [
        "3",
        "0",
        "3",
        "2",
        "1",
        "0",
        "0",
    ]  # SMS out, in, segments; MMS out, in; WhatsApp out, in


async def test_the_overview_and_the_report_show_whatsapp_apart(tmp_path: Path) -> None:
    async with in_process(tmp_path, with_mms_price()) as app:
        await alice_sends_sms_and_mms_and_a_customer_sends_mms(app)
        alice_user = await app.parley.cache.user("101")
        assert alice_user is not None
        now = utcnow()
        sent = {**outbound_row(sender=SUPPORT, to=CUSTOMER, text="on WhatsApp", now=now, user_id=alice_user.id,
                               source="api"), "channel": "whatsapp"}  # fmt: skip
        received = {**sent, "id": new_id(), "direction": "in", "user_id": None, "sender": CUSTOMER,
                    "recipient": SUPPORT, "status": "received"}  # fmt: skip
        async with app.parley.db.write() as conn:
            await message_store.add_all(conn, [sent, received])
        async with console_client(app, ALICE) as (alice, _):
            page = (await alice.get("/stats")).text
            report = (await alice.get("/stats/messages")).text
    totals = {
        key: cell(page, f"total-{key}") for key in ("out", "in", "mms-out", "mms-in", "whatsapp-out", "whatsapp-in")
    }
    assert totals == {"out": "3", "in": "0", "mms-out": "2", "mms-in": "1", "whatsapp-out": "1", "whatsapp-in": "1"}
    row = re.search(r'<tr data-extension="101">(.*?)</tr>', page, re.S)
    assert row is not None
    by_class = dict(re.findall(r'<td class="([a-z-]+)">([^<]*)', row.group(1)))
    assert (by_class["sent"], by_class["whatsapp-sent"]) == ("3", "1")
    number = re.search(rf"<tr><th scope=\"row\">{re.escape(SUPPORT)}</th>(.*?)</tr>", page)
    assert number is not None
    assert re.findall(r"<td>(\d+)</td>", number.group(1))[-2:] == ["1", "1"]  # WhatsApp out, in
    assert re.findall(r'<td class="channel">(\w+)</td>', report).count("WhatsApp") == 2


async def test_the_report_and_its_csv_name_each_messages_channel(tmp_path: Path) -> None:
    async with in_process(tmp_path, with_mms_price()) as app:
        await alice_sends_sms_and_mms_and_a_customer_sends_mms(app)
        async with console_client(app, ALICE) as (alice, _):
            report = (await alice.get("/stats/messages")).text
            export = await alice.get("/stats/messages.csv")
    assert re.findall(r'<td class="channel">(\w+)</td>', report).count("MMS") == 3
    assert re.findall(r'<td class="channel">(\w+)</td>', report).count("SMS") == 3
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert sorted((r["direction"], r["channel"], r["charge"]) for r in rows) == [
        ("in", "mms", ""),
        ("out", "mms", "0.02"),
        ("out", "mms", "0.02"),
        ("out", "sms", ""),
        ("out", "sms", ""),
        ("out", "sms", "0.0079"),
    ]


async def test_the_admin_sets_an_mms_price_and_sees_it_in_the_price_list(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app, console_client(app, ALICE) as (alice, csrf):
        form = {"prefix": "+49", "price": "0.05", "mms_price": "0.25", "currency": "EUR", "csrf": csrf}
        assert (await alice.post("/admin/prices", data=form)).status_code == 303
        listed = (await alice.get("/admin/prices")).text
        assert re.search(r"\+49</a></td><td>0.05</td><td>0.25</td><td>EUR</td>", listed)
        edit = (await alice.get("/admin/prices/+49")).text
        assert 'name="mms_price" type="text" value="0.25"' in edit
        refused = await alice.post("/admin/prices/+49", data={**form, "mms_price": "lots"})
        assert refused.status_code == 422
        assert "is not a price" in refused.text
        config = await app.parley.cache.config()
    assert {p.prefix: p.mms_price for p in config.prices}["+49"] == Decimal("0.25")  # the refused edit changed nothing


async def test_a_text_with_a_picture_sent_through_the_api_is_charged_as_an_sms_and_an_mms(tmp_path: Path) -> None:
    doc = with_mms_price()
    doc["transports"] = [{"name": "twilio", "role": "carrier", "kind": "twilio", "account_sid": SID,
                          "auth_token": "token", "api_base": "http://127.0.0.1:9"}]  # fmt: skip
    doc["numbers"] = [{"number": SUPPORT, "sms": True, "mms": True, "carrier": "twilio"}]
    media = {"media_dir": str(tmp_path / "media"), "public_url": "https://sms.example.com"}
    async with in_process(tmp_path, doc, **media) as app:  # no workers: the messages stay queued
        async with app.client(ALICE) as alice:
            for text in ("one", "two"):  # Alice's package of 2 SMS is used up
                sent = await alice.post("/api/v2/messages", json={"to": CUSTOMER, "text": text})
                assert sent.status_code == 201, sent.text
            picture = await alice.post("/api/v2/media", files={"file": ("p.png", PNG, "image/png")})
            assert picture.status_code == 201, picture.text
            posted = await alice.post(
                "/api/v2/messages", json={"to": CUSTOMER, "text": "Here", "media": [picture.json()["id"]]}
            )
            assert posted.status_code == 201, posted.text
        answer = posted.json()["messages"]
        assert [(m["channel"], m["charge"], m["currency"]) for m in answer] == [
            ("sms", "0.0079", "USD"),
            ("mms", "0.02", "USD"),
        ]
        async with console_client(app, ALICE) as (console, _):
            page = (await console.get("/stats")).text
    assert (cell(page, "total-out"), cell(page, "total-mms-out"), cell(page, "total-cost")) == ("3", "1", "0.0279 USD")
