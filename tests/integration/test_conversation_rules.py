"""Seed 001's conversation rules over the real routing and API: a conversation's service never changes, and when
every participant has left, the customer's next message brings the service's static members back."""

from __future__ import annotations

from pathlib import Path

from parley.channels.base import Inbound
from tests.support.app import ALICE, in_process

COMPANY, CUSTOMER = "+15551230001", "+15557654321"


async def test_when_everyone_left_the_customers_message_brings_the_static_members_back(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app, app.client(ALICE) as alice, app.client(("102", "bob-secret")) as bob:
        await app.parley.inbox.receive("gsm", Inbound(CUSTOMER, COMPANY, "Hello"))
        await app.parley.router.route_due()
        (conversation,) = (await alice.get("/api/v2/conversations")).json()
        assert sorted(conversation["participants"]) == ["101"]  # Bob (essential) may not converse
        assert (await alice.post(f"/api/v2/conversations/{conversation['id']}/leave")).status_code == 204
        left = (await alice.get(f"/api/v2/conversations/{conversation['id']}")).json()
        assert left["participants"] == [] and left["former_participants"] == ["101"]
        await app.parley.inbox.receive("gsm", Inbound(CUSTOMER, COMPANY, "Anyone there?"))
        await app.parley.router.route_due()
        back = (await alice.get(f"/api/v2/conversations/{conversation['id']}")).json()
        assert back["participants"] == ["101"]
        assert (await bob.get(f"/api/v2/conversations/{conversation['id']}")).status_code == 404


async def test_a_conversations_service_never_changes_and_the_api_says_so(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app, app.client(ALICE) as alice:
        opened = (await alice.post("/api/v2/conversations", json={"to": CUSTOMER, "service": "Support"})).json()
        path = f"/api/v2/conversations/{opened['id']}"
        moved = await alice.patch(path, json={"service": "Sales"})
        assert moved.status_code == 422
        assert "never changes" in moved.text and moved.json()["detail"][0]["loc"] == ["body", "service"]
        same = await alice.patch(path, json={"service": "Support", "title": "Kim"})
        assert same.status_code == 200 and (same.json()["service"], same.json()["title"]) == ("Support", "Kim")
