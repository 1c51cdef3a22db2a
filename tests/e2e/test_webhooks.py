"""Inbound webhooks over real HTTP: Twilio's signed form and the generic signed JSON."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.channels.webhook_formats import generic_signature, twilio_signature
from tests.support.provisioning import document
from tests.support.server import ParleyServer, wait_until

TOKEN, SECRET = "twilio-auth-token-123", "a-shared-secret-of-32-characters"
COMPANY, CUSTOMER = "+15551230001", "+15557654321"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ParleyServer]:
    parley = ParleyServer(tmp_path)
    parley.apply(document(webhooks={"twilio_auth_token": TOKEN, "secret": SECRET, "trust_proxy": True}))
    await parley.start()
    try:
        yield parley
    finally:
        await parley.close()


async def inbound_messages(server: ParleyServer) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.url, auth=("101", "sms101api")) as client:
        return list((await client.get("/api/v2/messages", params={"direction": "in"})).json()["messages"])


def twilio_form(sid: str = "SM0001", body: str = "Hi from Twilio") -> dict[str, str]:
    return {"From": CUSTOMER, "To": COMPANY, "Body": body, "MessageSid": sid, "NumMedia": "0", "AccountSid": "AC1"}


async def post_twilio(
    server: ParleyServer, form: dict[str, str], public: str, signature: str | None = None
) -> httpx.Response:
    """As Twilio would, through a TLS-terminating proxy that forwards to Parley."""
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.com"}
    headers["X-Twilio-Signature"] = signature or twilio_signature(public, form, TOKEN)
    async with httpx.AsyncClient(base_url=server.url) as client:
        return await client.post("/api/v2/webhooks/twilio", data=form, headers=headers)


async def test_a_signed_twilio_message_is_stored_once_and_routed(server: ParleyServer) -> None:
    public = "https://sms.example.com/api/v2/webhooks/twilio"
    first = await post_twilio(server, twilio_form(), public)
    assert first.status_code == 200 and "<Response>" in first.text
    again = await post_twilio(server, twilio_form(), public)  # Twilio retries: the same MessageSid
    assert again.status_code == 200
    [message] = await inbound_messages(server)
    assert (message["from"], message["to"], message["body"]) == (CUSTOMER, COMPANY, "Hi from Twilio")
    async with httpx.AsyncClient(base_url=server.url, auth=("101", "sms101api")) as client:
        found = await wait_until(lambda: _conversations(client), timeout=15)
    assert found[0]["external_number"] == CUSTOMER


async def _conversations(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    return list((await client.get("/api/v2/conversations")).json())


async def test_a_bad_twilio_signature_is_refused_and_nothing_is_stored(server: ParleyServer) -> None:
    response = await post_twilio(server, twilio_form(), "https://sms.example.com/x", signature="bm9wZQ==")
    assert response.status_code == 403
    assert await inbound_messages(server) == []


async def test_a_malformed_twilio_form_names_the_field(server: ParleyServer) -> None:
    form = twilio_form()
    form["From"] = "not-a-number"
    response = await post_twilio(server, form, "https://sms.example.com/api/v2/webhooks/twilio")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "From"


async def test_the_generic_json_webhook_checks_its_hmac(server: ParleyServer) -> None:
    body = json.dumps({"from": CUSTOMER, "to": COMPANY, "text": "Hello via gateway", "id": "gw-1"}).encode()
    async with httpx.AsyncClient(base_url=server.url) as client:
        signed = {"content-type": "application/json", "X-Parley-Signature": "sha256=" + generic_signature(SECRET, body)}
        good = await client.post("/api/v2/webhooks/inbound", content=body, headers=signed)
        bad = await client.post("/api/v2/webhooks/inbound", content=body, headers={"X-Parley-Signature": "sha256=00"})
        empty = json.dumps({"from": CUSTOMER, "to": COMPANY, "text": "", "id": "gw-2"}).encode()
        refused = await client.post(
            "/api/v2/webhooks/inbound",
            content=empty,
            headers={"X-Parley-Signature": "sha256=" + generic_signature(SECRET, empty)},
        )
    assert good.status_code == 202 and good.json()["id"]
    assert bad.status_code == 403
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "text"
    assert [m["body"] for m in await inbound_messages(server)] == ["Hello via gateway"]
