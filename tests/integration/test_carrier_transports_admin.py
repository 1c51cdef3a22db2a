"""Twilio and Telnyx accounts in the admin console and API (issue 11 §1): added, edited, never shown their secrets."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from parley.store.tables import transports
from tests.support.app import ALICE, console_client, in_process
from tests.support.provisioning import document

SID = "AC" + "1" * 32
TOKEN = "twilio-auth-token-value"
API_KEY = "KEYtelnyx-api-key-value"
PUBLIC_KEY = "A" * 43 + "="


async def test_an_admin_adds_a_twilio_account_and_edits_it_without_retyping_the_token(tmp_path: Path) -> None:
    async with in_process(tmp_path, document()) as app, console_client(app, ALICE) as (alice, csrf):
        form = await alice.get("/admin/transports/new?kind=twilio")
        assert 'name="account_sid"' in form.text and "/api/v2/webhooks/twilio" in form.text
        added = await alice.post(
            "/admin/transports/new",
            data={"csrf": csrf, "kind": "twilio", "name": "tw", "role": "carrier", "account_sid": SID,
                  "auth_token": TOKEN},
        )  # fmt: skip
        assert added.status_code == 303, added.text
        page = await alice.get("/admin/transports/tw")
        assert SID in page.text and TOKEN not in page.text
        edited = await alice.post(
            "/admin/transports/tw",
            data={"csrf": csrf, "role": "carrier", "account_sid": SID, "api_base": "http://127.0.0.1:9"},
        )
        assert edited.status_code == 303, edited.text
        async with app.parley.db.read() as conn:
            config = (await conn.execute(sa.select(transports.c.config))).scalar_one()
        assert config == {"account_sid": SID, "auth_token": TOKEN, "api_base": "http://127.0.0.1:9"}
        async with app.client(ALICE) as api:
            [listed] = (await api.get("/api/v2/transports")).json()
        assert listed["kind"] == "twilio" and "auth_token" not in listed["config"]
        assert TOKEN not in str(listed)


async def test_a_telnyx_account_with_a_bad_public_key_is_refused_naming_the_field(tmp_path: Path) -> None:
    async with in_process(tmp_path, document()) as app, console_client(app, ALICE) as (alice, csrf):
        data = {"csrf": csrf, "kind": "telnyx", "name": "tx", "role": "carrier", "api_key": API_KEY}
        refused = await alice.post("/admin/transports/new", data={**data, "public_key": "not-a-key"})
        assert refused.status_code == 422
        assert "32-byte Ed25519 public key" in refused.text
        assert API_KEY not in refused.text
        added = await alice.post("/admin/transports/new", data={**data, "public_key": PUBLIC_KEY})
        assert added.status_code == 303, added.text
        page = await alice.get("/admin/transports/tx")
        assert PUBLIC_KEY in page.text and API_KEY not in page.text


async def test_an_http_carrier_is_only_ever_a_carrier(tmp_path: Path) -> None:
    async with in_process(tmp_path, document()) as app, console_client(app, ALICE) as (alice, csrf):
        refused = await alice.post(
            "/admin/transports/new",
            data={
                "csrf": csrf,
                "kind": "twilio",
                "name": "tw",
                "role": "curl",
                "account_sid": SID,
                "auth_token": TOKEN,
            },
        )
        assert refused.status_code == 422
        assert "a twilio transport is a carrier" in refused.text
