"""Outbound webhooks through the real application (ASGI) and real HTTP receivers, on SQLite and PostgreSQL
(issue 13 §1): endpoints, signed durable deliveries, retries, redirects, timeouts, forgery checks, status
callbacks in Parley's and Twilio's formats, resend, and an endpoint disabled after a day of failures."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from parley.bootstrap import Parley, build
from parley.channels.base import Inbound
from parley.core.twilio_ids import message_sid
from parley.services.delivery import Delivered
from parley.services.send import SendSms, outbound_row
from parley.services.webhook_outbox import WebhookOutbox
from parley.services.webhook_sender import WebhookSender
from parley.settings import Settings
from parley.store import campaigns as campaign_store
from parley.store import messages
from parley.store import webhooks as webhook_store
from parley.store.db import Database
from parley.store.tables import webhook_deliveries
from tests.conftest import Clock
from tests.support.app import client
from tests.support.provisioning import provision
from tests.support.webhook_app import (
    ALICE,
    BOB,
    CUSTOMER,
    USERS,
    app_for_webhooks,
    build_app,
    drain,
    new_endpoint,
    send,
)
from tests.support.webhook_receiver import HttpSink, SilentServer, SinkResponse, envelope, signed_by


@pytest.fixture
async def parley(db: Database, db_url: str, clock: Clock) -> AsyncIterator[Parley]:
    async with app_for_webhooks(db, db_url, clock) as app:
        yield app


async def test_an_endpoint_gets_every_status_signed_with_its_secret_shown_once(parley: Parley) -> None:
    async with HttpSink(status=204, body=b"") as sink:
        endpoint = await new_endpoint(parley, sink.url + "/hooks", ["message.status"])
        assert endpoint["secret"].startswith("whsec_")
        async with client(parley, auth=ALICE) as http:
            listed = (await http.get("/api/v2/webhook-endpoints")).json()
            fetched = (await http.get(f"/api/v2/webhook-endpoints/{endpoint['id']}")).json()
        assert "secret" not in listed[0] and "secret" not in fetched and endpoint["secret"] not in str(listed)

        message = await send(parley)
        await parley.deliveries.record(Delivered(message["id"], "carrier", ("c-1",)))
        await drain(parley)

        assert [r.path for r in sink.requests] == ["/hooks", "/hooks"]
        bodies = [envelope(r) for r in sink.requests]
        assert [b["type"] for b in bodies] == ["message.status"] * 2
        assert [b["data"]["status"] for b in bodies] == ["queued", "sent"]
        assert all(b["data"]["id"] == message["id"] for b in bodies)
        assert bodies[0]["id"] != bodies[1]["id"]
        assert bodies[0]["data"]["to"] == CUSTOMER and bodies[0]["data"]["from"] == message["from"]
        assert bodies[0]["created_at"].endswith("Z")
        assert all(signed_by(r, endpoint["secret"]) for r in sink.requests)
        assert not signed_by(sink.requests[0], "another-secret")
        assert sink.requests[0].headers["content-type"] == "application/json"


async def test_a_failed_delivery_is_retried_after_about_a_second_with_the_same_event_and_body(
    parley: Parley, clock: Clock
) -> None:
    async with HttpSink(status=500, body="down") as sink:
        endpoint = await new_endpoint(parley, sink.url, ["message.status"])
        await send(parley)
        await drain(parley)
        assert len(sink.requests) == 1
        assert await parley.webhook_sender.run_once() == 0  # not due yet
        sink.answer(200, "ok")
        clock.advance(seconds=1)
        await drain(parley)
        assert len(sink.requests) == 2
        first, second = sink.requests
        assert first.body == second.body
        assert envelope(first)["id"] == envelope(second)["id"]
        assert first.headers["parley-signature"] != second.headers["parley-signature"]  # signed per attempt
        assert signed_by(second, endpoint["secret"])

        async with client(parley, auth=ALICE) as http:
            listed = (await http.get(f"/api/v2/webhook-endpoints/{endpoint['id']}/deliveries")).json()
        assert listed[0]["state"] == "delivered" and listed[0]["attempts"] == 2
        assert [(a["status"], a["answer"]) for a in listed[0]["answers"]] == [(500, "down"), (200, "ok")]


async def test_resend_sends_the_same_event_again(parley: Parley) -> None:
    async with HttpSink() as sink:
        endpoint = await new_endpoint(parley, sink.url, ["message.status"])
        await send(parley)
        await drain(parley)
        async with client(parley, auth=ALICE) as http:
            delivery = (await http.get(f"/api/v2/webhook-endpoints/{endpoint['id']}/deliveries")).json()[0]
            path = f"/api/v2/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/resend"
            answer = await http.post(path)
            assert answer.status_code == 200 and answer.json()["state"] == "pending"
            missing = await http.post(f"/api/v2/webhook-endpoints/{endpoint['id']}/deliveries/999999/resend")
            assert missing.status_code == 404
        await drain(parley)
        assert len(sink.requests) == 2 and sink.requests[0].body == sink.requests[1].body


async def test_redirects_are_not_followed(parley: Parley) -> None:
    async with HttpSink() as elsewhere:
        moved = SinkResponse(302, b"", headers={"Location": elsewhere.url + "/stolen"})
        async with HttpSink(respond=lambda _: moved) as sink:
            endpoint = await new_endpoint(parley, sink.url, ["message.status"])
            await send(parley)
            await drain(parley)
            assert len(sink.requests) == 1 and elsewhere.requests == []
            async with client(parley, auth=ALICE) as http:
                found = (await http.get(f"/api/v2/webhook-endpoints/{endpoint['id']}/deliveries")).json()[0]
            assert found["state"] == "pending" and "not followed" in found["last_error"]


async def test_a_receiver_that_never_answers_is_given_up_on_in_bounded_time(parley: Parley) -> None:
    async with SilentServer() as silent:
        endpoint = await new_endpoint(parley, silent.url, ["message.status"])
        await send(parley)
        sender = WebhookSender(parley.db, parley.webhook_sender._clock, parley.webhooks,
                               attempt_seconds=0.3)  # fmt: skip
        try:
            assert await sender.run_once() == 1
        finally:
            await sender.close()
        assert silent.connections == 1
        async with client(parley, auth=ALICE) as http:
            found = (await http.get(f"/api/v2/webhook-endpoints/{endpoint['id']}/deliveries")).json()[0]
        assert found["state"] == "pending" and "no answer within" in found["last_error"]


async def test_private_addresses_are_refused_unless_provisioning_allows_them(
    db: Database, db_url: str, clock: Clock
) -> None:
    parley = await build_app(db, db_url, clock, None)
    try:
        async with client(parley, auth=ALICE) as http:
            for url in ("http://127.0.0.1:9/x", "http://169.254.169.254/", "http://[::1]/", "gopher://example.com/"):
                answer = await http.post("/api/v2/webhook-endpoints", json={"url": url, "events": ["message.status"]})
                assert answer.status_code == 422, url
                assert "url" in answer.text
            bad = await http.post("/api/v2/webhook-endpoints", json={"url": "https://example.com", "events": ["x"]})
            assert bad.status_code == 422 and "events" in bad.text
    finally:
        await parley.close()


async def test_a_name_is_checked_again_when_resolved_and_the_checked_address_is_the_one_connected(
    parley: Parley,
) -> None:
    async with HttpSink() as sink:
        await new_endpoint(parley, f"http://hooks.example.com:{sink.port}/in", ["message.status"])
        await new_endpoint(parley, f"http://rebound.example.com:{sink.port}/in", ["message.status"])
        await send(parley)

        async def resolver(host: str, port: int) -> list[Any]:
            # hooks.example.com resolves to loopback (allowed here); rebound.example.com to a private address
            return [ipaddress.ip_address("127.0.0.1" if host == "hooks.example.com" else "10.9.8.7")]

        sender = WebhookSender(parley.db, parley.webhook_sender._clock, parley.webhooks,
                               resolver=resolver)  # fmt: skip
        try:
            assert await sender.run_once() == 2
        finally:
            await sender.close()
        assert len(sink.requests) == 1
        assert sink.requests[0].headers["host"] == f"hooks.example.com:{sink.port}"
        async with parley.db.read() as conn:
            errors = (await conn.execute(sa.select(webhook_deliveries.c.last_error))).scalars().all()
        assert any(e and "10.9.8.7 is not public" in e for e in errors)


async def test_a_user_endpoint_gets_only_his_own_messages(parley: Parley) -> None:
    async with HttpSink() as sink:
        await new_endpoint(parley, sink.url, ["message.status"], who=BOB)
        await send(parley, ALICE)
        mine = await send(parley, BOB)
        await drain(parley)
        assert [envelope(r)["data"]["id"] for r in sink.requests] == [mine["id"]]
        async with client(parley, auth=BOB) as http:
            assert len((await http.get("/api/v2/webhook-endpoints")).json()) == 1
        async with client(parley, auth=ALICE) as http:
            assert len((await http.get("/api/v2/webhook-endpoints")).json()) == 1  # admins see everyone's


async def test_nothing_is_written_when_no_endpoint_wants_the_event(parley: Parley) -> None:
    async with HttpSink() as sink:
        await new_endpoint(parley, sink.url, ["campaign.finished"])
        await send(parley)
    async with parley.db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(webhook_deliveries)) == 0


async def test_deliveries_commit_with_the_change_or_not_at_all(parley: Parley, clock: Clock) -> None:
    async with HttpSink() as sink:
        await new_endpoint(parley, sink.url, ["message.status"])
        message = await send(parley)
        with pytest.raises(RuntimeError):
            async with parley.db.write() as conn:
                await messages.set_status(conn, [{"id": message["id"], "status": "sent"}], now=clock())
                raise RuntimeError("the change fails")
    async with parley.db.read() as conn:
        count = await conn.scalar(sa.select(sa.func.count()).select_from(webhook_deliveries))
    assert count == 1  # the queued status only


async def test_a_status_callback_needs_an_api_key_and_is_signed_with_its_secret(parley: Parley) -> None:
    async with HttpSink() as sink:
        async with client(parley, auth=ALICE) as http:
            refused = await http.post("/api/v2/messages", json={"to": CUSTOMER, "text": "x",
                                                                "status_callback": sink.url})  # fmt: skip
            assert refused.status_code == 400 and "API key" in refused.text
            key = (await http.post("/api/v2/api-keys", json={"name": "CRM", "scopes": ["send"]})).json()
        bearer = {"Authorization": f"Bearer {key['secret']}"}
        async with client(parley, headers=bearer) as http:
            private = await http.post("/api/v2/messages", json={"to": CUSTOMER, "text": "x",
                                                                "status_callback": "http://10.0.0.1/cb"})  # fmt: skip
            assert private.status_code == 422 and "status_callback" in private.text
            answer = await http.post("/api/v2/messages", json={"to": CUSTOMER, "text": "Hi",
                                                               "status_callback": sink.url + "/cb"})  # fmt: skip
            assert answer.status_code == 201, answer.text
        message = answer.json()["messages"][0]
        await parley.deliveries.record(Delivered(message["id"], "carrier", ("c-9",)))
        await drain(parley)
        assert [envelope(r)["data"]["status"] for r in sink.requests] == ["queued", "sent"]
        assert all(signed_by(r, key["secret"]) for r in sink.requests)


async def test_twilio_format_callbacks_are_form_posts_twilio_can_validate(parley: Parley) -> None:
    async with HttpSink() as sink:
        async with client(parley, auth=ALICE) as http:
            key = (await http.post("/api/v2/api-keys", json={"name": "Twilio code", "scopes": ["send"]})).json()
        alice = await parley.cache.user("101")
        assert alice is not None
        url = sink.url + "/twilio-status?x=1"
        result = await parley.outbox.send(SendSms(user=alice, destinations=[CUSTOMER], text="Hi", source="twilio",
                                                  status_callback=url, callback_format="twilio",
                                                  api_key_id=key["id"]))  # fmt: skip
        message_id = result.messages[0]["id"]
        await parley.deliveries.record(Delivered(message_id, "carrier", ("c-7",)))
        await drain(parley)
        forms = [dict(parse_qsl(r.body.decode())) for r in sink.requests]
        assert [f["MessageStatus"] for f in forms] == ["queued", "sent"]
        assert all(f["SmsStatus"] == f["MessageStatus"] for f in forms)
        first = forms[0]
        assert first["MessageSid"] == message_sid(message_id) and first["AccountSid"] == key["account_sid"]
        assert (first["To"], first["ApiVersion"]) == (CUSTOMER, "2010-04-01") and "ErrorCode" not in first
        assert sink.requests[0].headers["content-type"] == "application/x-www-form-urlencoded"
        validator = RequestValidator(key["secret"])
        for request, form in zip(sink.requests, forms, strict=True):
            assert validator.validate(url, form, request.headers["x-twilio-signature"])


async def test_an_endpoint_failing_for_a_day_is_disabled_and_says_why(parley: Parley, clock: Clock) -> None:
    async with HttpSink(status=503) as sink:
        endpoint = await new_endpoint(parley, sink.url, ["message.status"])
        await send(parley)
        await drain(parley)
        clock.advance(hours=24, seconds=1)
        await send(parley)
        await drain(parley)
        async with client(parley, auth=ALICE) as http:
            found = (await http.get(f"/api/v2/webhook-endpoints/{endpoint['id']}")).json()
            assert found["enabled"] is False and "failed for a day" in found["disabled_reason"]
            count = len(sink.requests)
            await send(parley)
            await drain(parley)
            assert len(sink.requests) == count  # a disabled endpoint gets nothing
            enabled = await http.patch(f"/api/v2/webhook-endpoints/{endpoint['id']}", json={"enabled": True})
            assert enabled.json()["enabled"] is True and enabled.json()["disabled_reason"] is None


async def test_endpoints_are_changed_and_deleted_by_their_owner_only(parley: Parley) -> None:
    endpoint = await new_endpoint(parley, "https://example.com/a", ["message.status"], who=ALICE)
    async with client(parley, auth=BOB) as http:
        assert (await http.get(f"/api/v2/webhook-endpoints/{endpoint['id']}")).status_code == 404
        assert (await http.delete(f"/api/v2/webhook-endpoints/{endpoint['id']}")).status_code == 404
    async with client(parley, auth=ALICE) as http:
        change = {"events": ["message.received", "conversation.created"], "description": "CRM"}
        changed = await http.patch(f"/api/v2/webhook-endpoints/{endpoint['id']}", json=change)
        assert changed.json()["events"] == ["message.received", "conversation.created"]
        assert changed.json()["description"] == "CRM"
        assert (await http.delete(f"/api/v2/webhook-endpoints/{endpoint['id']}")).status_code == 204
        assert (await http.get(f"/api/v2/webhook-endpoints/{endpoint['id']}")).status_code == 404


async def test_an_inbound_message_announces_its_conversation_and_itself_to_those_who_may_see_it(
    parley: Parley,
) -> None:
    async with HttpSink() as admin_sink, HttpSink() as bob_sink:
        kinds = ["message.received", "conversation.created", "conversation.updated"]
        await new_endpoint(parley, admin_sink.url, kinds)
        await new_endpoint(parley, bob_sink.url, kinds, who=BOB)
        message_id = await parley.inbox.receive("carrier", Inbound(CUSTOMER, "+15551230001", "Is it ready?"))
        assert await parley.router.route_due() == 1
        await drain(parley)
        found = {envelope(r)["type"]: envelope(r)["data"] for r in admin_sink.requests}
        assert found["message.received"]["id"] == message_id
        assert found["message.received"]["body"] == "Is it ready?"
        assert found["message.received"]["status"] == "received"
        conversation = found["conversation.created"]
        assert conversation["external_number"] == CUSTOMER and "unread" not in conversation
        assert "102" not in conversation["participants"]  # routed to Alice only: Bob may not see it
        assert bob_sink.requests == []


async def test_a_campaign_that_completes_is_announced_to_its_owner(parley: Parley, clock: Clock) -> None:
    async with HttpSink() as sink, HttpSink() as bob_sink:
        await new_endpoint(parley, sink.url, ["campaign.finished"])
        await new_endpoint(parley, bob_sink.url, ["campaign.finished"], who=BOB)  # not his campaign
        async with client(parley, auth=ALICE) as http:
            spec = {"name": "Spring", "sender": "+15551230001", "message": "Hi"}
            created = await http.post("/api/v2/campaigns", json=spec)
            assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        async with parley.db.write() as conn:  # as the runner does when the last message is settled
            await campaign_store.update(conn, campaign_id, status="completed", completed_at=clock(), updated_at=clock())
        await drain(parley)
        [request] = sink.requests
        body = envelope(request)
        assert body["type"] == "campaign.finished"
        assert (body["data"]["id"], body["data"]["status"], body["data"]["name"]) == (
            campaign_id,
            "completed",
            "Spring",
        )


async def test_an_event_that_cannot_be_made_does_not_undo_the_change_it_announces(db: Database, clock: Clock) -> None:
    await provision(db, clock(), users=USERS)

    def broken(row: Any) -> dict[str, Any]:
        raise ValueError("a bug in rendering")

    db.before_commit(WebhookOutbox(clock, broken).write)
    async with db.write() as conn:
        await webhook_store.add_endpoint(conn, {"id": "whe_1", "owner_id": 1, "url": "https://example.com/",
                                                "events": ["message.status"], "secret_sealed": "x", "enabled": True,
                                                "created_at": clock(), "updated_at": clock()})  # fmt: skip
    row = outbound_row(sender="+15551230001", to=CUSTOMER, text="Hi", now=clock(), user_id=1, source="api")
    async with db.write() as conn:
        await messages.add_all(conn, [row])
    async with db.read() as conn:
        assert await messages.find(conn, row["id"]) is not None
        assert await conn.scalar(sa.select(sa.func.count()).select_from(webhook_deliveries)) == 0


async def test_a_status_change_made_by_another_process_still_reaches_the_callback(
    parley: Parley, db_url: str, clock: Clock
) -> None:
    async with HttpSink() as sink:
        async with client(parley, auth=ALICE) as http:
            key = (await http.post("/api/v2/api-keys", json={"name": "CRM", "scopes": ["send"]})).json()
        async with client(parley, headers={"Authorization": f"Bearer {key['secret']}"}) as http:
            answer = await http.post(
                "/api/v2/messages", json={"to": CUSTOMER, "text": "Hi", "status_callback": sink.url}
            )
        message_id = answer.json()["messages"][0]["id"]
        worker = build(Settings(database_url=db_url, smtp="", secret="installation-secret"), clock=clock)
        try:  # a worker process that never saw the message records its outcome
            await worker.deliveries.record(Delivered(message_id, "carrier", ("c-1",)))
        finally:
            await worker.close()
        await drain(parley)
        assert [envelope(r)["data"]["status"] for r in sink.requests] == ["queued", "sent"]


async def test_without_endpoints_or_callbacks_statuses_cost_no_webhook_statement(parley: Parley) -> None:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    sa.event.listen(parley.db.engine.sync_engine, "before_cursor_execute", record)
    try:
        message = await send(parley)
        await parley.deliveries.record(Delivered(message["id"], "carrier", ("c-1",)))
    finally:
        sa.event.remove(parley.db.engine.sync_engine, "before_cursor_execute", record)
    webhook_statements = [s for s in statements if "webhook_deliveries" in s or "status_callback IS NOT NULL" in s]
    assert webhook_statements == []


async def test_sends_with_and_without_a_callback_share_a_group_commit(parley: Parley) -> None:
    alice = await parley.cache.user("101")
    assert alice is not None
    plain = SendSms(user=alice, destinations=[CUSTOMER], text="plain")
    called = SendSms(user=alice, destinations=[CUSTOMER], text="called", status_callback="https://example.com/cb",
                     callback_format="parley", api_key_id="SK" + "0" * 32)  # fmt: skip
    results = await asyncio.gather(*(parley.outbox.send(c) for c in (plain, called, plain, called)))
    async with parley.db.read() as conn:
        found = await messages.get_many(conn, [r.messages[0]["id"] for r in results])
    assert sorted(str(r.status_callback) for r in found.values()) == ["None", "None"] + ["https://example.com/cb"] * 2


async def test_workers_share_deliveries_without_sending_one_twice(parley: Parley) -> None:
    async with HttpSink() as sink:
        await new_endpoint(parley, sink.url, ["message.status"])
        for _ in range(12):
            await send(parley)
        senders = [WebhookSender(parley.db, parley.webhook_sender._clock, parley.webhooks,
                                 batch=4) for _ in range(3)]  # fmt: skip
        try:
            while sum(await asyncio.gather(*(s.run_once() for s in senders))):
                pass
        finally:
            for sender in senders:
                await sender.close()
        ids = [envelope(r)["id"] for r in sink.requests]
        assert len(ids) == 12 and len(set(ids)) == 12


async def test_a_huge_answer_is_read_only_in_part_and_kept_shorter(parley: Parley) -> None:
    async with HttpSink(status=200, body="x" * 2_000_000) as sink:
        endpoint = await new_endpoint(parley, sink.url, ["message.status"])
        await send(parley)
        await drain(parley)
        async with client(parley, auth=ALICE) as http:
            found = (await http.get(f"/api/v2/webhook-endpoints/{endpoint['id']}/deliveries")).json()[0]
        assert found["state"] == "delivered"
        assert 0 < len(found["answers"][0]["answer"]) <= 2000
