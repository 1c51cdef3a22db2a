"""WhatsApp transports in the admin console (issue 12 §1): added and edited with their secrets never shown back,
refused for a number without WhatsApp, and their state (an access token Meta refuses) shown as others' are."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from parley.bootstrap import utcnow
from parley.core.delivery import Unreachable
from parley.store.tables import numbers, transports
from tests.integration.test_whatsapp_reads import whatsapp_app
from tests.support.app import ALICE, console_client, in_process
from tests.support.fake_meta import FakeMeta
from tests.support.provisioning import document

SECRETS = {"access_token": "EAAG-secret-token-value", "app_secret": "app-secret-value", "verify_token": "verify-value"}
FORM = {"kind": "whatsapp", "name": "wa-main", "role": "whatsapp", "number": "+15551230001",
        "phone_number_id": "106540352242922", "waba_id": "102290129340398", **SECRETS}  # fmt: skip


async def test_an_admin_adds_a_whatsapp_number_and_edits_it_without_retyping_its_secrets(tmp_path: Path) -> None:
    async with in_process(tmp_path, document()) as app, console_client(app, ALICE) as (alice, csrf):
        form = await alice.get("/admin/transports/new?kind=whatsapp")
        fields = (
            "number",
            "phone_number_id",
            "waba_id",
            "access_token",
            "app_secret",
            "verify_token",
            "rate",
            "api_base",
        )
        for name in fields:
            assert f'name="{name}"' in form.text
        assert "/api/v2/webhooks/whatsapp" in form.text

        refused = await alice.post("/admin/transports/new", data={"csrf": csrf, **FORM})
        assert refused.status_code == 422
        assert "+15551230001 is not a company number with WhatsApp on" in refused.text
        assert not any(secret in refused.text for secret in SECRETS.values())

        async with app.parley.db.write() as conn:  # Numbers → +15551230001 → WhatsApp ticked
            await conn.execute(numbers.update().where(numbers.c.number == "+15551230001").values(whatsapp=True))
        added = await alice.post("/admin/transports/new", data={"csrf": csrf, **FORM})
        assert added.status_code == 303, added.text
        page = await alice.get("/admin/transports/wa-main")
        assert "106540352242922" in page.text and "Send a test SMS" not in page.text
        test = await alice.post(
            "/admin/transports/wa-main/test", data={"csrf": csrf, "to": "+15557654321"}, headers={"HX-Request": "true"}
        )
        assert "not sent: try a WhatsApp number from a conversation" in test.text
        assert not any(secret in page.text for secret in SECRETS.values())

        blanks = {**FORM, "access_token": "", "app_secret": "", "verify_token": "", "waba_id": "102290129340399",
                  "rate": "20"}  # fmt: skip
        edited = await alice.post("/admin/transports/wa-main", data={"csrf": csrf, **blanks})
        assert edited.status_code == 303, edited.text
        async with app.parley.db.read() as conn:
            row = (await conn.execute(sa.select(transports))).one()
        assert (row.kind, row.role) == ("whatsapp", "whatsapp")
        assert row.config == {"number": "+15551230001", "phone_number_id": "106540352242922",
                              "waba_id": "102290129340399", **SECRETS, "rate": 20,
                              "api_base": "https://graph.facebook.com/v21.0"}  # fmt: skip
        listing = await alice.get("/admin/transports")
        assert "WhatsApp" in listing.text and "Add a WhatsApp number" in listing.text
        assert not any(secret in listing.text for secret in SECRETS.values())


async def test_a_second_whatsapp_transport_for_the_same_number_is_refused(tmp_path: Path) -> None:
    meta = FakeMeta()
    async with whatsapp_app(tmp_path, meta) as app, console_client(app, ALICE) as (alice, csrf):
        refused = await alice.post("/admin/transports/new", data={"csrf": csrf, **FORM, "name": "wa-second"})
        assert refused.status_code == 422
        assert "+15551230001 is already served on WhatsApp by" in refused.text


async def test_an_access_token_meta_refuses_shows_as_the_transports_state_until_it_works(tmp_path: Path) -> None:
    meta = FakeMeta()
    async with whatsapp_app(tmp_path, meta) as app, console_client(app, ALICE) as (alice, _):
        channel = app.parley.transports.channel("wa-main")
        assert channel is not None
        good = meta.access_token
        meta.access_token = "EAAG-rotated-at-meta"  # Parley's token is now the wrong one
        try:
            await channel.mark_read("wamid.one")  # type: ignore[attr-defined]
        except Unreachable:
            pass
        else:
            raise AssertionError("Meta refused the token: the call must fail")
        await app.parley.transports.report(utcnow())
        rows = await alice.get("/admin/transports/status")
        assert "access token expired or wrong" in rows.text and "renew it in the transport" in rows.text
        page = await alice.get("/admin/transports/wa-main")
        assert "access token expired or wrong" in page.text

        meta.access_token = good  # renewed
        await channel.mark_read("wamid.one")  # type: ignore[attr-defined]
        await app.parley.transports.report(utcnow())
        rows = await alice.get("/admin/transports/status")
        assert "access token expired or wrong" not in rows.text and 'data-state="ready"' in rows.text
