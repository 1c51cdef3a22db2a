"""Who may open, join and attach calls to a service's conversations (issue 10): its members and admins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.app import ALICE, InProcess, console_client, in_process
from tests.support.provisioning import document

BOB = ("102", "bob-secret")  # business, a member of Support
DANA = ("104", "dana-secret")  # business, a member of Sales only
CUSTOMER = "+15557654321"
CALL = {"customer": CUSTOMER, "direction": "in", "started_at": "2026-05-01T10:00:00Z"}


def two_services() -> dict[str, Any]:
    doc = document()
    doc["users"] = [{**u, "license": "business"} if u["extension"] == "102" else u for u in doc["users"]]
    doc["users"].append({"extension": "104", "name": "Dana Sales", "password": "dana-secret", "license": "business"})
    doc["services"].append({"name": "Sales", "static_members": ["104"], "sms_number": "+15551230002"})
    doc["numbers"].append({"number": "+15551230002", "sms": True, "linked_service": "Sales"})
    return doc


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path, two_services()) as running:
        yield running


async def supports_conversation(app: InProcess) -> str:
    """Bob (Support) talks to the customer: the history an outsider must not get."""
    async with app.client(BOB) as bob:
        opened = await bob.post("/api/v2/conversations", json={"to": CUSTOMER, "service": "Support"})
        assert opened.status_code == 201, opened.text
        cid = str(opened.json()["id"])
        posted = await bob.post(f"/api/v2/conversations/{cid}/messages", json={"text": "Your card ends 4242"})
        assert posted.status_code == 201, posted.text
    return cid


async def test_a_user_outside_the_service_cannot_join_its_conversation(app: InProcess) -> None:
    cid = await supports_conversation(app)
    async with app.client(DANA) as dana:
        refused = await dana.post("/api/v2/conversations", json={"to": CUSTOMER, "service": "Support"})
        assert refused.status_code == 403
        assert "Support" in refused.json()["detail"]
        assert (await dana.get(f"/api/v2/conversations/{cid}/messages")).status_code == 404
        assert (await dana.get("/api/v2/conversations")).json() == []


async def test_a_user_outside_the_service_cannot_open_a_new_conversation_for_it(app: InProcess) -> None:
    async with app.client(DANA) as dana:
        refused = await dana.post("/api/v2/conversations", json={"to": "+15550001111", "service": "Support"})
        assert refused.status_code == 403
        own = await dana.post("/api/v2/conversations", json={"to": "+15550001111", "service": "Sales"})
        assert own.status_code == 201


async def test_an_admin_may_join_any_services_conversation(app: InProcess) -> None:
    async with app.client(DANA) as dana:
        sales = (await dana.post("/api/v2/conversations", json={"to": CUSTOMER, "service": "Sales"})).json()
    async with app.client(ALICE) as alice:
        joined = await alice.post("/api/v2/conversations", json={"to": CUSTOMER, "service": "Sales"})
        assert joined.status_code == 201
        assert joined.json()["id"] == sales["id"]
        assert "101" in joined.json()["participants"]


async def test_the_consoles_new_conversation_refuses_a_service_the_user_is_not_in(app: InProcess) -> None:
    cid = await supports_conversation(app)
    async with console_client(app, DANA) as (dana, csrf):
        refused = await dana.post("/inbox/new", data={"to": CUSTOMER, "service": "Support", "csrf": csrf})
        assert refused.status_code == 403
        assert "Support" in refused.text
        assert (await dana.get(f"/inbox/{cid}")).status_code == 404


async def test_calls_attach_only_to_the_callers_services_and_as_himself(app: InProcess) -> None:
    cid = await supports_conversation(app)
    async with app.client(DANA) as dana:
        by_service = await dana.post("/api/v2/calls", json={**CALL, "service": "Support"})
        assert by_service.status_code == 403
        assert "Support" in by_service.json()["detail"]
        by_number = await dana.post("/api/v2/calls", json={**CALL, "company_number": "+15551230001"})
        assert by_number.status_code == 403
        as_bob = await dana.post("/api/v2/calls", json={**CALL, "service": "Sales", "agent": "102"})
        assert as_bob.status_code == 403
        assert (await dana.post("/api/v2/calls", json={**CALL, "service": "Sales"})).status_code == 201
    async with app.client(BOB) as bob:
        mine = await bob.post("/api/v2/calls", json={**CALL, "service": "Support"})
        assert mine.status_code == 201
        assert mine.json()["conversation_id"] == cid
        timeline = (await bob.get(f"/api/v2/conversations/{cid}/messages")).json()
        assert len(timeline["calls"]) == 1
    async with app.client(ALICE) as alice:
        for_bob = await alice.post("/api/v2/calls", json={**CALL, "service": "Support", "agent": "102"})
        assert for_bob.status_code == 201
        nobody = await alice.post("/api/v2/calls", json={**CALL, "service": "Support", "agent": "999"})
        assert nobody.status_code == 422
