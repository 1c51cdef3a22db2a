"""WhatsApp templates through the API (issue 12 §5), against the local Graph API: sync, list, create, preview, and
`resolve` (what a send checks before Meta is asked)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from parley.core.whatsapp_rules import TemplateSpec
from parley.services.whatsapp_templates import ResolvedTemplate, TemplateRefused
from tests.support.app import ALICE, BOB, CARL, InProcess, in_process
from tests.support.fake_meta import FakeMeta
from tests.support.provisioning import BASE, document

URL = "/api/v2/whatsapp/templates"
WA = "+15551230001"
SMS_ONLY = "+15551230002"
ORDER = "Hi {{1}}, your order {{2}} has shipped."
FOOTER = [
    {"type": "FOOTER", "text": "Acme Ltd"},
    {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Thanks"}]},
]


@asynccontextmanager
async def templates_app(tmp_path: Path, meta: FakeMeta) -> AsyncIterator[InProcess]:
    async with meta, provisioned(tmp_path, meta) as app:
        yield app


@asynccontextmanager
async def provisioned(tmp_path: Path, meta: FakeMeta) -> AsyncIterator[InProcess]:
    transport = {"name": "wa-main", "role": "whatsapp", "kind": "whatsapp", "number": WA,
                 "phone_number_id": meta.phone_number_id, "waba_id": meta.waba_id, "access_token": meta.access_token,
                 "app_secret": meta.app_secret, "verify_token": "verify", "api_base": meta.api_base}  # fmt: skip
    numbers = [{"number": WA, "whatsapp": True, "linked_service": "Support"}, {"number": SMS_ONLY, "sms": True}]
    users = [{**u, "license": "business"} if u["extension"] == BOB[0] else u for u in BASE["users"]]
    async with in_process(tmp_path, document(numbers=numbers, transports=[transport], users=users)) as app:
        yield app


def problems(answer: Any) -> list[tuple[list[str], str]]:
    return [(d["loc"], d["msg"]) for d in answer.json()["detail"]]


async def test_a_sync_lists_metas_templates_with_their_text_and_keeps_them_in_step(tmp_path: Path) -> None:
    meta = FakeMeta(page_size=2)
    meta.add_template("order_update", "en_US", "UTILITY", "APPROVED", ORDER, FOOTER)
    meta.add_template("promo", "en_US", "MARKETING", "PENDING", "Sale this week.")
    meta.add_template("old", "fr", "UTILITY", "APPROVED", "Bonjour.")
    async with templates_app(tmp_path, meta) as app, app.client(ALICE) as alice, app.client(BOB) as bob:
        assert (await bob.get(URL)).json() == []  # nothing synced yet
        synced = await alice.post(f"{URL}/sync")
        assert synced.status_code == 200, synced.text
        assert synced.json() == {"accounts": [{"waba_id": meta.waba_id, "templates": 3, "removed": 0, "error": None}],
                                 "templates": 3, "removed": 0, "failed": 0}  # fmt: skip
        listed = (await bob.get(URL, params={"number": WA})).json()
        assert [(t["name"], t["language"], t["category"], t["status"]) for t in listed] == [
            ("old", "fr", "utility", "approved"),
            ("order_update", "en_US", "utility", "approved"),
            ("promo", "en_US", "marketing", "pending"),
        ]
        order = listed[1]
        assert order["text"] == "Hi {{1}}, your order {{2}} has shipped.\nAcme Ltd\n[Thanks]"
        assert [(c["type"], c["variables"]) for c in order["components"]] == [
            ("BODY", 2),
            ("FOOTER", 0),
            ("BUTTONS", 0),
        ]
        assert order["synced_at"] is not None

        meta.templates = [t for t in meta.templates if t["name"] != "old"]
        meta.set_status("promo", "REJECTED", reason="PROMOTIONAL")
        again = (await alice.post(f"{URL}/sync", params={"number": WA})).json()
        assert (again["templates"], again["removed"]) == (2, 1)
        approved = (await bob.get(URL, params={"status": "approved"})).json()
        assert [t["name"] for t in approved] == ["order_update"]
        listed = (await alice.get(URL)).json()
        assert [(t["name"], t["status"], t["reason"]) for t in listed] == [
            ("order_update", "approved", None),
            ("promo", "rejected", "PROMOTIONAL"),
        ]
    assert meta.problems == []


async def test_a_failed_sync_keeps_the_last_list_is_logged_and_leaks_no_token(tmp_path: Path) -> None:
    meta = FakeMeta()
    meta.add_template("order_update", "en_US", "UTILITY", "APPROVED", ORDER)
    async with templates_app(tmp_path, meta) as app, app.client(ALICE) as alice:
        await alice.post(f"{URL}/sync")
        meta.templates.clear()
        meta.fail_templates(500, 2, f"Service temporarily unavailable for {meta.access_token}")
        with capture_logs() as logs:
            failed = await alice.post(f"{URL}/sync")
        assert failed.status_code == 200
        [account] = failed.json()["accounts"]
        assert account["error"].startswith("wa-main: WhatsApp 2") and failed.json()["failed"] == 1
        assert [t["name"] for t in (await alice.get(URL)).json()] == ["order_update"]
        assert any(entry["event"] == "whatsapp.templates_sync_failed" for entry in logs)
        assert meta.access_token not in failed.text and meta.access_token not in repr(logs)
        # The worker's periodic job never raises either.
        meta.fail_templates(401, 190, "Error validating access token")
        [result] = await app.parley.whatsapp_templates.sync_all()
        assert "access token" in (result.error or "")


async def test_who_may_list_sync_and_create(tmp_path: Path) -> None:
    meta = FakeMeta()
    async with templates_app(tmp_path, meta) as app, app.client(BOB) as bob, app.client(CARL) as carl:
        assert (await carl.get(URL)).status_code == 403  # a basic license does not converse
        assert (await bob.get(URL)).status_code == 200
        assert (await bob.post(f"{URL}/sync")).status_code == 403
        new = {"number": WA, "name": "hello", "category": "utility", "body": "Hello there."}
        assert (await bob.post(URL, json=new)).status_code == 403
        async with app.client() as nobody:
            assert (await nobody.get(URL)).status_code == 401
        assert (await bob.get(URL, params={"number": SMS_ONLY})).status_code == 422
    assert meta.created == []


async def test_an_admin_creates_a_template_which_stays_pending_until_meta_approves_it(tmp_path: Path) -> None:
    meta = FakeMeta()
    new = {"number": WA, "name": "order_update", "language": "en_US", "category": "utility", "body": ORDER,
           "header_text": "Your order", "footer": "Acme Ltd", "examples": ["Kerry", "#123"]}  # fmt: skip
    async with templates_app(tmp_path, meta) as app, app.client(ALICE) as alice:
        created = await alice.post(URL, json=new)
        assert created.status_code == 201, created.text
        assert (created.json()["status"], created.json()["category"]) == ("pending", "utility")
        assert created.json()["text"] == "Your order\n" + ORDER + "\nAcme Ltd"
        [submitted] = meta.created
        assert submitted == {"name": "order_update", "language": "en_US", "category": "UTILITY", "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Your order"},
            {"type": "BODY", "text": ORDER, "example": {"body_text": [["Kerry", "#123"]]}},
            {"type": "FOOTER", "text": "Acme Ltd"},
        ]}  # fmt: skip
        assert [t["status"] for t in (await alice.get(URL)).json()] == ["pending"]
        again = await alice.post(URL, json=new)
        assert again.status_code == 409 and len(meta.created) == 1

        meta.set_status("order_update", "APPROVED")
        await alice.post(f"{URL}/sync")
        assert [t["status"] for t in (await alice.get(URL)).json()] == ["approved"]
    assert meta.problems == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"name": "Order Update"}, "name", id="name"),
        pytest.param({"body": "{{1}} is here."}, "body", id="body-starts-with-variable"),
        pytest.param({"examples": []}, "examples", id="no-examples"),
        pytest.param({"category": "authentication"}, "category", id="authentication"),
        pytest.param({"number": SMS_ONLY}, "number", id="not-on-whatsapp"),
    ],
)
async def test_a_bad_template_is_refused_by_field_before_meta(
    tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    meta = FakeMeta()
    new = {"number": WA, "name": "order_update", "category": "utility", "body": ORDER, "examples": ["Kerry", "#1"]}
    async with templates_app(tmp_path, meta) as app, app.client(ALICE) as alice:
        refused = await alice.post(URL, json=new | change)
        assert refused.status_code == 422
        assert [loc for loc, _ in problems(refused)] == [["body", field]]
    assert meta.created == []


async def test_meta_refusing_a_template_is_a_422_with_its_reason(tmp_path: Path) -> None:
    meta = FakeMeta()
    meta.add_template("order_update", "en_US", "UTILITY", "REJECTED", "Old.")  # on Meta's side, not synced here
    new = {"number": WA, "name": "order_update", "category": "utility", "body": "Hello there."}
    async with templates_app(tmp_path, meta) as app, app.client(ALICE) as alice:
        refused = await alice.post(URL, json=new)
        assert refused.status_code == 422 and "already exists" in refused.text


async def test_preview_and_resolve_fill_an_approved_template_and_refuse_the_rest(tmp_path: Path) -> None:
    meta = FakeMeta()
    meta.add_template("order_update", "en_US", "UTILITY", "APPROVED", ORDER, FOOTER)
    meta.add_template("promo", "en_US", "MARKETING", "PAUSED", "Sale.")
    meta.add_template("picture", "en_US", "MARKETING", "APPROVED", "Look.", [{"type": "HEADER", "format": "IMAGE"}])
    async with templates_app(tmp_path, meta) as app, app.client(ALICE) as alice, app.client(BOB) as bob:
        await alice.post(f"{URL}/sync")
        spec = {"name": "order_update", "language": "en_US", "variables": ["Kerry", "#123"]}
        shown = await bob.post(f"{URL}/preview", json={"number": WA, "template": spec})
        assert shown.status_code == 200, shown.text
        assert shown.json() == {"text": "Hi Kerry, your order #123 has shipped.\nAcme Ltd\n[Thanks]"}

        templates = app.parley.whatsapp_templates
        resolved = await templates.resolve(WA, TemplateSpec("order_update", "en_US", ("Kerry", "#123")))
        assert resolved == ResolvedTemplate(meta.waba_id, shown.json()["text"], "utility")
        assert (await templates.resolve(WA, TemplateSpec("picture", "en_US", (), "media-1"))).text == "[image]\nLook."

        cases = [
            ({"name": "nope"}, "not a template of this WhatsApp account at the last sync"),
            ({"name": "promo", "variables": []}, "is paused at WhatsApp, not approved"),
            ({"variables": ["Kerry"]}, "takes 2 body variables; 1 given"),
            ({"name": "picture", "variables": []}, "has a image header"),
            ({"variables": "Kerry"}, "template.variables: must be a list"),
        ]
        for change, reason in cases:
            refused = await bob.post(f"{URL}/preview", json={"number": WA, "template": spec | change})
            assert refused.status_code == 422, change
            [(loc, msg)] = problems(refused)
            assert loc == ["body", "template"] and reason in msg, (change, msg)
        with pytest.raises(TemplateRefused) as not_whatsapp:
            await templates.resolve(SMS_ONLY, TemplateSpec("order_update", "en_US", ("a", "b")))
        assert not_whatsapp.value.status == 422 and not_whatsapp.value.field == "template"
        async with app.client(CARL) as carl:
            assert (await carl.post(f"{URL}/preview", json={"number": WA, "template": spec})).status_code == 403


async def test_a_template_send_is_checked_against_the_last_sync_then_reaches_meta(tmp_path: Path) -> None:
    """The send path calls `resolve`: refused by field before Meta, or stored with the text the customer sees."""
    meta = FakeMeta()
    meta.add_template("order_update", "en_US", "UTILITY", "APPROVED", ORDER, FOOTER)
    async with templates_app(tmp_path, meta) as app, app.client(ALICE) as alice:
        template = {"name": "order_update", "language": "en_US", "variables": ["Kerry", "#123"]}
        send = {"to": "+15557654321", "channel": "whatsapp", "template": template}
        unknown = await alice.post("/api/v2/messages", json=send)
        assert unknown.status_code == 422 and "at the last sync" in unknown.text
        assert not [r for r in meta.requests if r.path.endswith("/messages")]

        await alice.post(f"{URL}/sync")
        wrong = await alice.post("/api/v2/messages", json=send | {"template": template | {"variables": ["Kerry"]}})
        assert wrong.status_code == 422 and "takes 2 body variables; 1 given" in wrong.text
        sent = await alice.post("/api/v2/messages", json=send)
        assert sent.status_code == 201, sent.text
        message_id = sent.json()["messages"][0]["id"]
        detail = (await alice.get(f"/api/v2/messages/{message_id}")).json()
        assert "Hi Kerry, your order #123 has shipped." in str(detail)

        await app.parley.transports.start()
        await app.parley.dispatcher.claim_and_send()
        async with asyncio.timeout(10):
            while not meta.messages:
                await asyncio.sleep(0.02)
        [to_meta] = meta.messages
        assert to_meta["template"]["name"] == "order_update"
        assert to_meta["template"]["components"] == [
            {"type": "body", "parameters": [{"type": "text", "text": "Kerry"}, {"type": "text", "text": "#123"}]}
        ]
    assert meta.problems == []
