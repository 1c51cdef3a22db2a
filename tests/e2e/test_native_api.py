"""The native JSON API (/api/v2) over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.server import ParleyServer

ALICE = ("101", "sms101api")  # admin
BOB = ("102", "bob-secret")


def client(server: ParleyServer, auth: tuple[str, str] | None = ALICE) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, auth=auth)


async def test_post_creates_one_message_per_destination_and_returns_them(api_server: ParleyServer) -> None:
    async with client(api_server) as c:
        response = await c.post("/api/v2/messages", json={"to": ["+15551234567", "5551234568"], "text": "Hi €"})
    assert response.status_code == 201
    body = response.json()
    assert body["refused"] == []
    assert [m["to"] for m in body["messages"]] == ["+15551234567", "+15551234568"]  # national read in the PBX country
    first = body["messages"][0]
    assert {k: first[k] for k in ("direction", "from", "status", "segments", "encoding", "transport", "error")} == {
        "direction": "out", "from": "+15551230001", "status": "queued", "segments": 1, "encoding": "gsm7",
        "transport": None, "error": None,
    }  # fmt: skip


async def test_a_message_is_read_back_with_its_status_history(api_server: ParleyServer) -> None:
    async with client(api_server) as c:
        created = (await c.post("/api/v2/messages", json={"to": "+447700900123", "text": "Привет"})).json()
        message_id = created["messages"][0]["id"]
        detail = (await c.get(f"/api/v2/messages/{message_id}")).json()
    assert detail["encoding"] == "ucs2"
    assert detail["from"] == "Alice Smith"
    assert [h["status"] for h in detail["history"]] == ["queued"]


async def test_send_at_schedules_the_message(api_server: ParleyServer) -> None:
    async with client(api_server) as c:
        created = await c.post(
            "/api/v2/messages", json={"to": "+15551234567", "text": "later", "send_at": "2099-01-01T09:00:00+01:00"}
        )
    [message] = created.json()["messages"]
    assert message["status"] == "scheduled"
    assert message["send_at"].startswith("2099-01-01T08:00:00")


async def test_lists_filter_and_paginate_newest_first(api_server: ParleyServer) -> None:
    async with client(api_server) as c:
        for i in range(5):
            await c.post("/api/v2/messages", json={"to": f"+1555123000{i}", "text": f"n{i}"})
        first = (await c.get("/api/v2/messages", params={"limit": 2})).json()
        second = (await c.get("/api/v2/messages", params={"limit": 2, "before": first["next"]})).json()
        third = (await c.get("/api/v2/messages", params={"limit": 2, "before": second["next"]})).json()
        filtered = (await c.get("/api/v2/messages", params={"to": "+15551230003"})).json()
        none = (await c.get("/api/v2/messages", params={"status": "delivered"})).json()
    bodies = [m["body"] for page in (first, second, third) for m in page["messages"]]
    assert bodies == ["n4", "n3", "n2", "n1", "n0"]
    assert third["next"] is None
    assert [m["body"] for m in filtered["messages"]] == ["n3"]
    assert none["messages"] == []


async def test_a_user_sees_only_his_own_messages_and_an_admin_sees_all(api_server: ParleyServer) -> None:
    async with client(api_server) as alice, client(api_server, BOB) as bob:
        mine = (await alice.post("/api/v2/messages", json={"to": "+15551234567", "text": "alice"})).json()
        await bob.post("/api/v2/messages", json={"to": "+447700900123", "text": "bob"})
        bob_list = (await bob.get("/api/v2/messages")).json()["messages"]
        alice_list = (await alice.get("/api/v2/messages")).json()["messages"]
        only_bob = (await alice.get("/api/v2/messages", params={"user": "102"})).json()["messages"]
        forbidden = await bob.get(f"/api/v2/messages/{mine['messages'][0]['id']}")
    assert [m["body"] for m in bob_list] == ["bob"]
    assert sorted(m["body"] for m in alice_list) == ["alice", "bob"]
    assert [m["user"] for m in only_bob] == ["102"]
    assert forbidden.status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param({"to": [], "text": "x"}, "to", id="no-destination"),
        pytest.param({"to": "+15551234567", "text": ""}, "text", id="empty-text"),
        pytest.param({"to": "+15551234567", "text": "y" * 671}, "text", id="too-long"),
        pytest.param({"to": "+15551234567"}, "text", id="missing-text"),
        pytest.param({"to": "+15551234567", "text": "x", "send_at": "tomorrow"}, "send_at", id="bad-send-at"),
        pytest.param({"to": "+15551234567", "text": "x", "send_at": "2099-01-01T09:00:00"}, "send_at", id="naive"),
        pytest.param({"to": "+15551234567", "text": "x", "gsm": "nope"}, "gsm", id="unknown-gsm"),
        pytest.param({"to": "abc", "text": "x"}, "to", id="not-a-number"),
        pytest.param({"to": "+15551234567", "text": "x", "colour": "red"}, "colour", id="unknown-field"),
    ],
)
async def test_bad_input_is_refused_naming_the_field(
    api_server: ParleyServer, payload: dict[str, Any], field: str
) -> None:
    async with client(api_server) as c:
        response = await c.post("/api/v2/messages", json=payload)
        assert (await c.get("/api/v2/messages")).json()["messages"] == []
    assert response.status_code == 422
    assert any(field in map(str, error["loc"]) for error in response.json()["detail"]), response.text


async def test_every_endpoint_needs_credentials(api_server: ParleyServer) -> None:
    async with client(api_server, None) as anonymous, client(api_server, ("101", "wrong")) as wrong:
        for response in (
            await anonymous.get("/api/v2/messages"),
            await anonymous.post("/api/v2/messages", json={"to": "+15551234567", "text": "x"}),
            await anonymous.get("/api/v2/messages/abc"),
            await wrong.get("/api/v2/messages"),
        ):
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Basic")


async def test_a_basic_license_may_not_send(api_server: ParleyServer) -> None:
    async with client(api_server, ("103", "carl-secret")) as carl:
        response = await carl.post("/api/v2/messages", json={"to": "+447700900123", "text": "x"})
    assert response.status_code == 403


async def test_the_openapi_document_and_swagger_ui_are_served_to_admins_only(api_server: ParleyServer) -> None:
    async with client(api_server) as alice, client(api_server, BOB) as bob, client(api_server, None) as anyone:
        spec = (await alice.get("/api/v1/openapi.json")).json()
        ui = await alice.get("/api/v1/doc")
        refused = [(await c.get(path)).status_code for c in (bob, anyone) for path in ("/api/v1/openapi.json",
                                                                                          "/api/v1/doc")]  # fmt: skip
        alive = await anyone.get("/healthz")
    assert {"/api/v2/messages", "/api/v2/messages/{message_id}", "/api/v1/originate/sms"} <= set(spec["paths"])
    assert ui.status_code == 200 and "swagger" in ui.text.lower()
    assert refused == [403, 403, 401, 401] and alive.status_code == 200


async def test_transport_state_is_for_admins_only(api_server: ParleyServer) -> None:
    async with client(api_server) as alice, client(api_server, BOB) as bob:
        listed = await alice.get("/api/v2/transports")
        refused = await bob.get("/api/v2/transports")
    assert listed.status_code == 200
    [gsm] = listed.json()
    assert (gsm["name"], gsm["role"], gsm["state"]) == ("gsm-lobby", "gsm", "not running")  # no worker runs it
    assert "password" not in gsm["config"]
    assert refused.status_code == 403


async def test_the_blocklist_is_kept_by_hand_and_only_admins_remove_entries(api_server: ParleyServer) -> None:
    async with client(api_server) as alice, client(api_server, BOB) as bob:
        added = await bob.post("/api/v2/blocklist", json={"number": "(555) 123-4567"})
        assert added.status_code == 201 and added.json() == {"number": "+15551234567"}
        bad = await bob.post("/api/v2/blocklist", json={"number": "12"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "number"]
        listed = (await alice.get("/api/v2/blocklist")).json()
        assert [(e["number"], e["reason"], e["added_by"]) for e in listed] == [("+15551234567", "manual", "102")]
        assert (await bob.delete("/api/v2/blocklist/+15551234567")).status_code == 403
        assert (await alice.delete("/api/v2/blocklist/+15551234567")).status_code == 204
        assert (await alice.get("/api/v2/blocklist")).json() == []
        # A user's direct messages still go to a blocklisted number (campaigns skip it).
        await bob.post("/api/v2/blocklist", json={"number": "+447700900123"})
        sent = await bob.post("/api/v2/messages", json={"to": "+447700900123", "text": "direct"})
        assert sent.status_code == 201
