"""Who may create a campaign, and who it is charged to (issue 10): only admins name another user."""

from __future__ import annotations

from pathlib import Path

from tests.support.app import ALICE, BOB, CARL, console_client, in_process

SPEC = {"name": "Spring sale", "sender": "+15551230001", "message": "Hi"}


async def test_a_user_who_names_another_user_to_charge_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app, app.client(BOB) as bob:
        refused = await bob.post("/api/v2/campaigns", json={**SPEC, "rating_extension": "101"})
        assert refused.status_code == 403
        assert "only administrators" in refused.json()["detail"].lower()
        assert (await bob.get("/api/v2/campaigns")).json() == []


async def test_a_users_own_campaign_is_charged_to_himself(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app, app.client(BOB) as bob:
        created = await bob.post("/api/v2/campaigns", json=SPEC)
        assert created.status_code == 201, created.text
        assert created.json()["rating_extension"] == "102"
        named_himself = await bob.post("/api/v2/campaigns", json={**SPEC, "rating_extension": "102"})
        assert named_himself.status_code == 201


async def test_a_user_whose_license_cannot_send_cannot_create_a_campaign(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app, app.client(CARL) as carl:
        refused = await carl.post("/api/v2/campaigns", json=SPEC)
        assert refused.status_code == 403
        assert "license" in refused.json()["detail"]
        assert (await carl.post("/api/v2/campaigns", json={**SPEC, "rating_extension": "101"})).status_code == 403


async def test_an_admin_may_charge_another_user_whose_license_sends(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app, app.client(ALICE) as alice:
        created = await alice.post("/api/v2/campaigns", json={**SPEC, "rating_extension": "102"})
        assert created.status_code == 201
        assert created.json()["rating_extension"] == "102"
        basic = await alice.post("/api/v2/campaigns", json={**SPEC, "rating_extension": "103"})
        assert basic.status_code == 422
        assert basic.json()["detail"][0]["loc"] == ["body", "rating_extension"]


async def test_the_console_refuses_a_campaign_to_a_user_whose_license_cannot_send(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app:
        async with console_client(app, CARL) as (carl, csrf):
            form = {**SPEC, "csrf": csrf, "sender_type": "number", "sender_number": SPEC["sender"], "source": "file"}
            files = {"file": ("r.csv", b"number\n+15557654321\n", "text/csv")}
            refused = await carl.post("/campaigns", data=form, files=files)
        assert refused.status_code == 403
        assert "license" in refused.text
        async with app.client(ALICE) as alice:
            assert (await alice.get("/api/v2/campaigns")).json() == []
