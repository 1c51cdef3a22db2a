"""The console's WhatsApp templates page over HTTP: the list, a refused form with its errors by field, a sync."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_whatsapp_templates_api import WA, templates_app
from tests.support.app import ALICE, BOB, console_client
from tests.support.fake_meta import FakeMeta

PAGE = "/admin/whatsapp-templates"


async def test_the_page_shows_errors_by_field_and_the_sync_result(tmp_path: Path) -> None:
    meta = FakeMeta()
    meta.add_template("order_update", "en_US", "UTILITY", "APPROVED", "Hi {{1}}, it shipped.")
    async with templates_app(tmp_path, meta) as app, console_client(app, ALICE) as (console, csrf):
        index = await console.get("/admin")
        assert f'href="{PAGE}"' in index.text and "WhatsApp templates" in index.text
        empty = await console.get(PAGE)
        assert empty.status_code == 200 and "No templates synced yet." in empty.text

        bad = {"csrf": csrf, "number": WA, "name": "Bad Name", "language": "en_US", "category": "utility",
               "body": "{{1}} starts it.", "examples": "x"}  # fmt: skip
        refused = await console.post(PAGE, data=bad)
        assert refused.status_code == 422
        assert 'id="e-name"' in refused.text and 'value="Bad Name"' in refused.text
        refused = await console.post(PAGE, data=bad | {"name": "fine"})
        assert 'id="e-body"' in refused.text and "may not begin or end with a variable" in refused.text
        assert meta.created == []

        synced = await console.post(f"{PAGE}/sync", data={"csrf": csrf})
        assert "1 templates synced, 0 removed" in synced.text
        assert "Hi {{1}}, it shipped." in synced.text and "template-approved" in synced.text

        good = bad | {"name": "welcome", "body": "Welcome aboard, {{1}}!", "examples": "Kerry"}
        created = await console.post(PAGE, data=good)
        assert created.status_code == 303 and created.headers["location"] == PAGE
        assert "template-pending" in (await console.get(PAGE)).text
    async with templates_app(tmp_path / "b", FakeMeta()) as app, console_client(app, BOB) as (console, csrf):
        assert (await console.get(PAGE)).status_code == 403
        assert (await console.post(f"{PAGE}/sync", data={"csrf": csrf})).status_code == 403


async def test_the_composers_preview_answers_with_the_session_and_its_csrf_header(tmp_path: Path) -> None:
    meta = FakeMeta()
    meta.add_template("order_update", "en_US", "UTILITY", "APPROVED", "Hi {{1}}, it shipped.")
    async with templates_app(tmp_path, meta) as app, console_client(app, BOB) as (console, csrf):
        await app.parley.whatsapp_templates.sync(meta.waba_id)
        url = "/whatsapp/templates/preview"
        asked = {"number": WA, "template": {"name": "order_update", "language": "en_US", "variables": ["Kerry"]}}
        shown = await console.post(url, json=asked, headers={"X-CSRF-Token": csrf})
        assert shown.status_code == 200 and shown.json() == {"text": "Hi Kerry, it shipped."}
        asked["template"]["variables"] = []
        refused = await console.post(url, json=asked, headers={"X-CSRF-Token": csrf})
        assert refused.status_code == 422
        assert refused.json()["error"]["field"] == "template.variables"
        assert "takes 1 body variable; 0 given" in refused.json()["error"]["reason"]
        assert (await console.post(url, json=asked)).status_code == 403  # no CSRF header
