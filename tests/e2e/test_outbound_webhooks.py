"""Outbound webhooks against a real `parley serve` killed with kill -9 mid-way (issue 13 §1, "Done when"): the
endpoint still receives every status change of every message, signed, with the same event ids across the
restart (duplicates allowed, nothing missing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.support.http_sink import RecordedRequest
from tests.support.provisioning import document
from tests.support.server import ParleyServer, wait_until
from tests.support.smsc import SmscSimulator
from tests.support.webhook_receiver import HttpSink, SinkResponse, envelope, signed_by

ALICE = ("101", "sms101api")


def carrier(port: int) -> dict[str, Any]:
    return {"name": "carrier", "role": "carrier", "kind": "smpp", "host": "127.0.0.1", "port": port,
            "system_id": "parley", "password": "secret"}  # fmt: skip


async def history(server: ParleyServer, message_id: str) -> list[str]:
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as client:
        found = (await client.get(f"/api/v2/messages/{message_id}")).json()
    return [h["status"] for h in found["history"]]


async def test_every_status_reaches_the_endpoint_signed_after_a_kill_9(tmp_path: Path) -> None:
    answered: list[tuple[RecordedRequest, int]] = []
    status = {"now": 500}

    def respond(request: RecordedRequest) -> SinkResponse:
        answered.append((request, status["now"]))
        return SinkResponse(status["now"], b"")

    async with SmscSimulator(port=0, system_id="parley", password="secret") as smsc, HttpSink(respond=respond) as sink:
        server = ParleyServer(tmp_path)
        server.apply(document(transports=[carrier(smsc.port)], webhooks={"allow_private": ["127.0.0.0/8"]}))
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as client:
                wanted = {"url": sink.url + "/events", "events": ["message.status"]}
                created = await client.post("/api/v2/webhook-endpoints", json=wanted)
                assert created.status_code == 201, created.text
                secret = created.json()["secret"]
                ids = []
                for i in range(5):
                    sent = await client.post("/api/v2/messages", json={"to": f"+1555000{i:04d}", "text": f"m{i}"})
                    ids.append(sent.json()["messages"][0]["id"])

            async def all_delivered() -> bool:
                return all([(await history(server, m))[-1] == "delivered" for m in ids])

            await wait_until(all_delivered, timeout=60)
            await wait_until(lambda: len(answered) >= 5, timeout=30)  # the receiver is failing them
            server.kill()  # kill -9: deliveries pending, some mid-attempt
            failed_before = {envelope(r)["id"] for r, code in answered if code == 500}

            status["now"] = 200
            await server.start()
            expected = {(m, s) for m in ids for s in await history(server, m)}

            def received() -> set[tuple[str, str]]:
                bodies = [envelope(r) for r, code in answered if code == 200]
                return {(b["data"]["id"], b["data"]["status"]) for b in bodies}

            await wait_until(lambda: expected <= received(), timeout=60)
            delivered_ids = {envelope(r)["id"] for r, code in answered if code == 200}
            assert failed_before <= delivered_ids  # the same events, by id, after the restart
            assert all(signed_by(r, secret) for r, _ in answered)
            assert {s for _, s in expected} >= {"queued", "sent", "delivered"}
            first = {}
            for request, _ in answered:
                body = envelope(request)
                first.setdefault(body["data"]["id"], body["data"]["status"])
            assert set(first.values()) == {"queued"}  # queued comes first
        finally:
            server.stop()


async def test_a_twilio_script_gets_signed_status_callbacks_twilio_can_validate(tmp_path: Path) -> None:
    async with SmscSimulator(port=0, system_id="parley", password="secret") as smsc, HttpSink() as sink:
        server = ParleyServer(tmp_path)
        server.apply(document(transports=[carrier(smsc.port)], webhooks={"allow_private": ["127.0.0.0/8"]}))
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as alice:
                key = (await alice.post("/api/v2/api-keys", json={"name": "script", "scopes": ["send"]})).json()
            client = Client(key["id"], key["secret"], key["account_sid"])
            client.api.base_url = server.url
            callback = sink.url + "/twilio/status?tenant=7"
            sent = client.messages.create(to="+15557654321", from_="+15551230001", body="Hi", status_callback=callback)

            def statuses() -> list[str]:
                return [dict(parse_qsl(r.body.decode()))["MessageStatus"] for r in sink.requests]

            await wait_until(lambda: "delivered" in statuses(), timeout=60)
            assert statuses()[0] == "queued" and "sent" in statuses()
            validator = RequestValidator(key["secret"])
            for request in sink.requests:
                form = dict(parse_qsl(request.body.decode()))
                assert form["MessageSid"] == sent.sid and form["AccountSid"] == key["account_sid"]
                assert validator.validate(callback, form, request.headers["x-twilio-signature"])
        finally:
            await server.close()
