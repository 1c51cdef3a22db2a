"""Two-way conversations end to end: the SMSC delivers inbound SMS, agents see them live and reply."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.provisioning import document
from tests.support.server import ParleyServer, wait_until
from tests.support.smsc import SmscSimulator
from tests.support.sse import SseClient

ALICE, BOB, DORA, EVE = ("101", "sms101api"), ("102", "bob-secret"), ("104", "dora-secret"), ("105", "eve-secret")
SUPPORT, NIGHT_LINE, NOWHERE = "+15551230001", "+15551230002", "+15551239999"
CUSTOMER = "+15557654321"


def closed_now() -> dict[str, Any]:
    """Working hours that exclude the present moment (every day, from 2 to 3 hours from now)."""
    now = datetime.now(UTC)
    start, end = now + timedelta(hours=2), now + timedelta(hours=3)
    return {"timezone": "UTC", "rules": [{"days": ["mon-sun"], "ranges": [f"{start:%H:%M}-{end:%H:%M}"]}]}


def provisioning(smsc_port: int) -> dict[str, Any]:
    doc = document()
    doc["users"] += [
        {"extension": "104", "name": "Dora Diaz", "password": "dora-secret", "license": "business"},
        {"extension": "105", "name": "Eve Evans", "password": "eve-secret", "license": "premium"},
    ]
    doc["services"] = [
        {"name": "Support", "static_members": ["101", "102", "104"], "dynamic_members": ["105"], "sms_number": SUPPORT},
        {"name": "Night", "static_members": ["105"]},
    ]
    doc["bots"] = [{"name": "Night bot", "message": "We are closed; we answer from 9am."}]
    doc["numbers"] = [
        {"number": SUPPORT, "linked_service": "Support"},
        {"number": NIGHT_LINE, "linked_service": "Night", "routing": {"type": "agent", "target": "105"},
         "out_of_hours": {"type": "bot", "target": "Night bot"}, "hours": closed_now()},
    ]  # fmt: skip
    doc["transports"] = [
        {"name": "carrier", "role": "carrier", "kind": "smpp", "host": "127.0.0.1", "port": smsc_port,
         "system_id": "parley", "password": "secret"},
    ]  # fmt: skip
    return doc


@pytest.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    async with SmscSimulator(port=0, system_id="parley", password="secret") as simulator:
        yield simulator


@pytest.fixture
async def server(tmp_path: Path, smsc: SmscSimulator) -> AsyncIterator[ParleyServer]:
    parley = ParleyServer(tmp_path, extra_env={"PARLEY_RETRY_BASE_SECONDS": "0.2"})
    parley.apply(provisioning(smsc.port))
    await parley.start()
    await smsc.wait_for(lambda: smsc.bound_sessions >= 1, timeout=20)
    try:
        yield parley
    finally:
        await parley.close()


def api(server: ParleyServer, auth: tuple[str, str]) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, auth=auth)


async def conversations(server: ParleyServer, auth: tuple[str, str] = ALICE, **params: Any) -> list[dict[str, Any]]:
    async with api(server, auth) as client:
        response = await client.get("/api/v2/conversations", params=params)
    response.raise_for_status()
    return list(response.json())


async def first_conversation(server: ParleyServer, auth: tuple[str, str] = ALICE) -> dict[str, Any]:
    found: list[dict[str, Any]] = await wait_until(lambda: conversations(server, auth), timeout=20)
    return found[0]


async def timeline(server: ParleyServer, conversation_id: str, auth: tuple[str, str] = ALICE) -> dict[str, Any]:
    async with api(server, auth) as client:
        response = await client.get(f"/api/v2/conversations/{conversation_id}/messages")
    response.raise_for_status()
    return dict(response.json())


async def test_an_inbound_sms_opens_a_conversation_that_the_services_agents_see_live(
    server: ParleyServer, smsc: SmscSimulator
) -> None:
    async with SseClient(server.url, DORA) as dora, SseClient(server.url, EVE) as eve:
        smsc.send_mo(CUSTOMER, SUPPORT, "Hello, is my order ready?")
        event = await dora.wait_for("message.created")
        conversation = await first_conversation(server, DORA)
        assert event["conversation_id"] == conversation["id"]
        assert (conversation["title"], conversation["company_number"], conversation["external_number"]) == (
            CUSTOMER, SUPPORT, CUSTOMER)  # fmt: skip
        assert conversation["service"] == "Support"
        # Static members with a business license or higher; not Bob (essential) nor Eve (dynamic).
        assert sorted(conversation["participants"]) == ["101", "104"]
        assert conversation["unread"] == 1
        # The event carries the message, exactly as the timeline lists it: no request needed to show it.
        assert event["message"] == (await timeline(server, conversation["id"], DORA))["messages"][0]
        assert event["message"]["body"] == "Hello, is my order ready?"
        assert not [e for e in eve.events if e[0] == "message.created"]
    assert await conversations(server, EVE) == []


async def test_an_agents_reply_goes_out_from_the_company_number_and_is_delivered(
    server: ParleyServer, smsc: SmscSimulator
) -> None:
    smsc.send_mo(CUSTOMER, SUPPORT, "Hi")
    conversation = await first_conversation(server)
    async with api(server, DORA) as dora:
        posted = await dora.post(f"/api/v2/conversations/{conversation['id']}/messages", json={"text": "Yes, it is!"})
        assert posted.status_code == 201, posted.text
        await dora.post(f"/api/v2/conversations/{conversation['id']}/read")
    await smsc.wait_for(lambda: any(s.text == "Yes, it is!" for s in smsc.received), timeout=20)
    reply = next(s for s in smsc.received if s.text == "Yes, it is!")
    assert ("+" + reply.pdu.source_addr, "+" + reply.pdu.destination_addr) == (SUPPORT, CUSTOMER)

    async def delivered() -> bool:
        messages = (await timeline(server, conversation["id"]))["messages"]
        return any(m["body"] == "Yes, it is!" and m["status"] == "delivered" for m in messages)

    await wait_until(delivered, timeout=20)
    smsc.send_mo(CUSTOMER, SUPPORT, "Thanks")
    await wait_until(lambda: _message_count(server, conversation["id"], 3), timeout=20)
    assert len(await conversations(server)) == 1  # the same conversation, not a new one
    assert (await first_conversation(server, DORA))["unread"] == 1


async def _message_count(server: ParleyServer, conversation_id: str, n: int) -> bool:
    return len((await timeline(server, conversation_id))["messages"]) == n


async def test_an_agent_who_sends_stop_blocks_the_customer_and_start_lifts_it(
    server: ParleyServer, smsc: SmscSimulator
) -> None:
    smsc.send_mo(CUSTOMER, SUPPORT, "spam spam")
    conversation = await first_conversation(server)
    cid = conversation["id"]
    async with api(server, ALICE) as alice:
        blocked = (await alice.post(f"/api/v2/conversations/{cid}/messages", json={"text": "stop"})).json()
        assert blocked == {"message": None, "command": "stop", "messages": [], "left_out": []}
        assert [b["external_number"] for b in (await alice.get("/api/v2/blocks")).json()] == [CUSTOMER]
        smsc.send_mo(CUSTOMER, SUPPORT, "more spam")
        await wait_until(lambda: _has_status(server, "blocked"), timeout=20)
        assert [m["body"] for m in (await timeline(server, cid))["messages"]] == ["spam spam"]  # kept, not shown
        assert (await first_conversation(server))["unread"] == 1
        asked = await alice.get(f"/api/v2/conversations/{cid}/messages", params={"include_blocked": "true"})
        assert [(m["body"], m["status"]) for m in asked.json()["messages"]] == [
            ("spam spam", "received"),
            ("more spam", "blocked"),
        ]
        async with api(server, BOB) as bob:
            refused = await bob.get(f"/api/v2/conversations/{cid}/messages", params={"include_blocked": "true"})
        assert refused.status_code == 403  # admins only
        assert await alice.post(f"/api/v2/conversations/{cid}/messages", json={"text": "START"})
        assert (await alice.get("/api/v2/blocks")).json() == []
    kinds = [e["kind"] for e in (await timeline(server, cid))["events"]]
    assert "blocked" in kinds and "unblocked" in kinds
    assert not any(s.text.lower() in ("stop", "start") for s in smsc.received)  # commands are never sent


async def _has_status(server: ParleyServer, status: str) -> bool:
    async with api(server, ALICE) as client:
        response = await client.get("/api/v2/messages", params={"status": status})
    return bool(response.json()["messages"])


async def test_customer_keywords_record_opt_out_and_a_probable_one_is_flagged(
    server: ParleyServer, smsc: SmscSimulator
) -> None:
    smsc.send_mo(CUSTOMER, SUPPORT, "Stop. Thank you")
    conversation = await first_conversation(server)
    smsc.send_mo(CUSTOMER, SUPPORT, " STOP! ")

    async def kinds() -> list[str]:
        return [e["kind"] for e in (await timeline(server, conversation["id"]))["events"]]

    await wait_until(lambda: _contains(kinds(), "opted_out"), timeout=20)
    assert "probable_opt_out" in await kinds()


async def _contains(values: Any, item: str) -> bool:
    return item in await values


async def test_out_of_hours_a_bot_answers_and_the_routed_agent_is_not_added(
    server: ParleyServer, smsc: SmscSimulator
) -> None:
    smsc.send_mo(CUSTOMER, NIGHT_LINE, "Anyone there?")
    await smsc.wait_for(lambda: any(s.text.startswith("We are closed") for s in smsc.received), timeout=20)
    answer = next(s for s in smsc.received if s.text.startswith("We are closed"))
    assert "+" + answer.pdu.source_addr == NIGHT_LINE
    conversation = await first_conversation(server)
    assert conversation["participants"] == ["Night bot"]
    smsc.send_mo(CUSTOMER, NIGHT_LINE, "Hello??")
    await wait_until(lambda: _message_count(server, conversation["id"], 3), timeout=20)
    assert sum(s.text.startswith("We are closed") for s in smsc.received) == 1  # once, not per message


async def test_a_message_to_an_unknown_number_is_kept_with_a_reason(server: ParleyServer, smsc: SmscSimulator) -> None:
    smsc.send_mo(CUSTOMER, NOWHERE, "wrong number?")

    async def unrouted() -> list[dict[str, Any]]:
        async with api(server, ALICE) as client:
            found = (await client.get("/api/v2/messages", params={"direction": "in"})).json()["messages"]
        return [m for m in found if m["error"]]

    [message] = await wait_until(unrouted, timeout=20)
    assert NOWHERE in message["error"]


async def test_an_agent_opens_a_conversation_and_joins_the_existing_one(
    server: ParleyServer, smsc: SmscSimulator
) -> None:
    async with api(server, DORA) as dora, api(server, ALICE) as alice:
        opened = await dora.post("/api/v2/conversations", json={"to": "+15550001111", "service": "Support"})
        assert opened.status_code == 201, opened.text
        again = await alice.post("/api/v2/conversations", json={"to": "+15550001111", "service": "Support"})
        assert again.json()["id"] == opened.json()["id"]
        assert sorted(again.json()["participants"]) == ["101", "104"]
        refused = await alice.post(
            f"/api/v2/conversations/{opened.json()['id']}/members", json={"member": "+15550002222"}
        )
        assert refused.status_code == 422 and "outside numbers" in refused.text
        async with api(server, BOB) as bob_client:
            bob = await bob_client.post("/api/v2/conversations", json={"to": "+15550001111", "service": "Support"})
        assert bob.status_code == 403
        sent = await dora.post(f"/api/v2/conversations/{opened.json()['id']}/messages", json={"text": "Hello from us"})
        assert sent.status_code == 201
    await smsc.wait_for(lambda: any(s.text == "Hello from us" for s in smsc.received), timeout=20)


async def test_a_long_inbound_message_in_parts_arrives_whole(server: ParleyServer, smsc: SmscSimulator) -> None:
    text = "This is a long message from a customer that does not fit in one SMS. " * 3
    smsc.send_mo(CUSTOMER, SUPPORT, text, concat=True)
    conversation = await first_conversation(server)
    await wait_until(lambda: _message_count(server, conversation["id"], 1), timeout=20)
    [message] = (await timeline(server, conversation["id"]))["messages"]
    assert message["body"] == text


async def test_a_recorded_call_links_into_the_conversation(server: ParleyServer, smsc: SmscSimulator) -> None:
    smsc.send_mo(CUSTOMER, SUPPORT, "Call me")
    conversation = await first_conversation(server)
    async with api(server, DORA) as dora:
        call = await dora.post(
            "/api/v2/calls",
            json={"customer": CUSTOMER, "service": "Support", "direction": "out", "started_at": "2026-11-24T10:00:00Z"},
        )
    assert call.status_code == 201, call.text
    assert call.json()["conversation_id"] == conversation["id"]
    assert [c["direction"] for c in (await timeline(server, conversation["id"]))["calls"]] == ["out"]


async def test_an_admin_configures_a_number_and_a_number_without_settings_is_partially_configured(
    server: ParleyServer,
) -> None:
    async with api(server, ALICE) as alice, api(server, DORA) as dora:
        support = (await alice.get(f"/api/v2/numbers/{SUPPORT}")).json()
        assert (support["linked_service"], support["partially_configured"]) == ("Support", False)
        settings = {
            "routing": {"type": "group", "target": "Support"},
            "out_of_hours": {"type": "bot", "target": "Night bot"},
            "hours": {"timezone": "Europe/Rome", "rules": [{"days": ["mon-fri"], "ranges": ["09:00-18:00"]}]},
            "actions": [{"name": "Nudge", "conditions": [{"type": "no_reply", "after": "10m"}],
                         "task": {"add_members": ["105"]}}],
        }  # fmt: skip
        saved = await alice.put(f"/api/v2/numbers/{SUPPORT}/settings", json=settings)
        assert saved.status_code == 200, saved.text
        assert saved.json()["settings"]["hours"]["timezone"] == "Europe/Rome"
        bad = await alice.put(
            f"/api/v2/numbers/{SUPPORT}/settings",
            json={"routing": {"type": "agent", "target": "999"}, "hours": {"timezone": "Mars/Base", "rules": []}},
        )
        assert bad.status_code == 422
        assert "Mars/Base" in bad.text
        assert (await dora.get(f"/api/v2/numbers/{SUPPORT}")).status_code == 403


async def test_relinking_a_number_stops_the_old_links_conversations_from_sending(
    server: ParleyServer, smsc: SmscSimulator
) -> None:
    smsc.send_mo(CUSTOMER, SUPPORT, "Hello")
    conversation = await first_conversation(server)
    async with api(server, ALICE) as alice:
        relinked = await alice.put(f"/api/v2/numbers/{SUPPORT}/settings", json={"linked_service": "Night"})
        assert relinked.status_code == 200, relinked.text
        reply = await alice.post(f"/api/v2/conversations/{conversation['id']}/messages", json={"text": "still here?"})
    assert reply.status_code == 409
    assert "no longer linked" in reply.json()["detail"]


async def test_participants_see_their_reply_turn_delivered_live(server: ParleyServer, smsc: SmscSimulator) -> None:
    smsc.send_mo(CUSTOMER, SUPPORT, "Status please")
    conversation = await first_conversation(server, DORA)
    async with SseClient(server.url, DORA) as dora, api(server, DORA) as client:
        posted = await client.post(f"/api/v2/conversations/{conversation['id']}/messages", json={"text": "On its way"})
        message_id = posted.json()["message"]["id"]
        event = await dora.wait_for("message.status", message_id=message_id, status="delivered", timeout=20)
    assert event["conversation_id"] == conversation["id"]
