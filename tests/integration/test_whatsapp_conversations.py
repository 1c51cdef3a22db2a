"""WhatsApp in conversations (issue 12 §3, §4, §7): one conversation with SMS, replies on the customer's last channel,
the 24-hour window counted from Meta's timestamp (409 before Meta), BSUID customers, and falling back to SMS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from parley.channels.base import Inbound
from parley.store.tables import messages
from tests.support.app import ALICE, InProcess, in_process
from tests.support.fake_meta import FakeMeta
from tests.support.provisioning import document

URL = "/api/v2/webhooks/whatsapp"
COMPANY = "+15551230001"
CUSTOMER = "+15557654321"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def whatsapp_app(
    tmp_path: Path, meta: FakeMeta, clock: Clock, **number: Any
) -> AsyncIterator[tuple[InProcess, Any]]:
    transport = {"name": "wa-main", "role": "whatsapp", "kind": "whatsapp", "number": COMPANY,
                 "phone_number_id": meta.phone_number_id, "waba_id": meta.waba_id, "access_token": meta.access_token,
                 "app_secret": meta.app_secret, "verify_token": "verify", "api_base": meta.api_base}  # fmt: skip
    numbers = [{"number": COMPANY, "whatsapp": True, "linked_service": "Support", **number}]
    async with in_process(tmp_path, document(numbers=numbers, transports=[transport]), clock=clock) as app:
        await app.parley.transports.start()
        async with app.client(ALICE) as agent, app.client() as meta_client:
            meta.client = meta_client
            yield app, agent


async def write_on_whatsapp(app: InProcess, meta: FakeMeta, text: str, at: datetime, **kw: Any) -> None:
    body = meta.inbound(text=text, timestamp=int(at.timestamp()), **kw)
    assert (await meta.post(URL, body)).status_code == 200
    await app.parley.router.route_due()


async def write_by_sms(app: InProcess, text: str) -> None:
    await app.parley.inbox.receive("gsm", Inbound(CUSTOMER, COMPANY, text), source="smpp")
    await app.parley.router.route_due()


async def until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Wait for a condition (the dispatcher works in tasks of its own)."""
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.02)
    return found


async def row(app: InProcess, message_id: str) -> Any:
    async with app.parley.db.read() as conn:
        return (await conn.execute(sa.select(messages).where(messages.c.id == message_id))).first()


async def the_conversation(agent: Any) -> dict[str, Any]:
    listed = (await agent.get("/api/v2/conversations")).json()
    assert len(listed) == 1, listed
    return dict(listed[0])


async def test_sms_and_whatsapp_from_one_customer_are_one_conversation_and_replies_follow_the_last_channel(
    tmp_path: Path,
) -> None:
    clock = Clock()
    async with FakeMeta() as meta, whatsapp_app(tmp_path, meta, clock) as (app, agent):
        await write_by_sms(app, "Hello by SMS")
        first = await the_conversation(agent)
        assert (first["last_channel"], first["whatsapp_window_expires_at"]) == ("sms", None)
        written = clock.now - timedelta(hours=1)  # Meta's timestamp, not when Parley got it
        await write_on_whatsapp(app, meta, "And on WhatsApp", written)
        conversation = await the_conversation(agent)
        assert conversation["id"] == first["id"] and conversation["last_channel"] == "whatsapp"
        expires = datetime.fromisoformat(conversation["whatsapp_window_expires_at"].replace("Z", "+00:00"))
        assert expires == written + timedelta(hours=24)
        timeline = (await agent.get(f"/api/v2/conversations/{conversation['id']}/messages")).json()
        assert [(m["body"], m["channel"]) for m in timeline["messages"]] == [
            ("Hello by SMS", "sms"), ("And on WhatsApp", "whatsapp")
        ]  # fmt: skip

        reply = await agent.post(f"/api/v2/conversations/{conversation['id']}/messages", json={"text": "Hi there"})
        assert reply.status_code == 201, reply.text
        sent = reply.json()["message"]
        assert (sent["channel"], sent["segments"], sent["charge"]) == ("whatsapp", 1, None)
        await app.parley.dispatcher.claim_and_send()
        done = await until(lambda: _status_in(app, sent["id"], ("sending", "sent")))
        assert (done.transport, done.status) == ("wa-main", "sending")
        assert [(m["to"], m["type"], m["text"]["body"]) for m in meta.messages] == [("15557654321", "text", "Hi there")]
        assert meta.problems == []

        by_sms = await agent.post(
            f"/api/v2/conversations/{conversation['id']}/messages", json={"text": "Also by SMS", "channel": "sms"}
        )
        assert by_sms.status_code == 201 and by_sms.json()["message"]["channel"] == "sms"


async def _status_in(app: InProcess, message_id: str, statuses: tuple[str, ...]) -> Any:
    """The message once in one of ``statuses`` — "sending" only once a transport took it (not the claim's)."""
    found = await row(app, message_id)
    if found is None or found.status not in statuses or (found.status == "sending" and found.transport is None):
        return None
    return found


async def test_outside_the_window_a_free_form_reply_is_refused_with_409_before_meta(tmp_path: Path) -> None:
    clock = Clock()
    async with FakeMeta() as meta, whatsapp_app(tmp_path, meta, clock) as (app, agent):
        written = clock.now - timedelta(hours=24, minutes=5)
        await write_on_whatsapp(app, meta, "Yesterday's question", written)
        conversation = await the_conversation(agent)
        answer = await agent.post(f"/api/v2/conversations/{conversation['id']}/messages", json={"text": "Sorry!"})
        assert answer.status_code == 409, answer.text
        refusal = answer.json()
        assert "24-hour" in refusal["detail"] and refusal["window"] == "whatsapp_customer_service"
        closed = datetime.fromisoformat(refusal["window_closed_at"].replace("Z", "+00:00"))
        assert closed == written + timedelta(hours=24)
        async with app.parley.db.read() as conn:
            assert (await conn.scalar(sa.select(sa.func.count()).where(messages.c.direction == "out"))) == 0
        assert meta.requests == []  # nothing reached Meta
        native = await agent.post("/api/v2/messages", json={"to": CUSTOMER, "text": "Hi", "channel": "whatsapp"})
        assert native.status_code == 409 and native.json()["window_closed_at"] == refusal["window_closed_at"]


async def test_meta_refusing_with_131047_fails_the_message_with_its_code(tmp_path: Path) -> None:
    clock = Clock()
    async with FakeMeta() as meta, whatsapp_app(tmp_path, meta, clock) as (app, agent):
        await write_on_whatsapp(app, meta, "Question", clock.now - timedelta(hours=2))
        conversation = await the_conversation(agent)
        sent = (await agent.post(f"/api/v2/conversations/{conversation['id']}/messages", json={"text": "Hi"})).json()
        meta.fail_next(400, 131047, "Re-engagement message")
        await app.parley.dispatcher.claim_and_send()
        failed = await until(lambda: _status_in(app, sent["message"]["id"], ("failed",)))
        assert failed.error_code == "131047" and "131047" in failed.error


async def test_a_customer_without_a_phone_number_is_answered_on_whatsapp_by_user_id(tmp_path: Path) -> None:
    clock = Clock()
    async with FakeMeta() as meta, whatsapp_app(tmp_path, meta, clock) as (app, agent):
        message = {"from_user_id": "US.13491208655302741918", "id": "wamid.bsuid1", "type": "text",
                   "timestamp": str(int(clock.now.timestamp())), "text": {"body": "no number here"}}  # fmt: skip
        contact = {"profile": {"name": "Anon", "username": "anon"}, "user_id": "US.13491208655302741918"}
        assert (await meta.post(URL, meta.envelope({"contacts": [contact], "messages": [message]}))).status_code == 200
        await app.parley.router.route_due()
        conversation = await the_conversation(agent)
        sms = await agent.post(
            f"/api/v2/conversations/{conversation['id']}/messages", json={"text": "hi", "channel": "sms"}
        )
        assert sms.status_code == 422 and "only WhatsApp" in sms.text
        sent = (await agent.post(f"/api/v2/conversations/{conversation['id']}/messages", json={"text": "Hello"})).json()
        assert sent["message"]["channel"] == "whatsapp"
        await app.parley.dispatcher.claim_and_send()
        await until(lambda: _status_in(app, sent["message"]["id"], ("sending",)))
        assert [(m.get("recipient"), "to" in m) for m in meta.messages] == [("US.13491208655302741918", False)]


async def test_not_on_whatsapp_falls_back_to_sms_and_the_route_says_so(tmp_path: Path) -> None:
    clock = Clock()
    async with FakeMeta() as meta, whatsapp_app(tmp_path, meta, clock, fallback="sms") as (app, agent):
        await write_on_whatsapp(app, meta, "Question", clock.now - timedelta(minutes=5))
        conversation = await the_conversation(agent)
        sent = (await agent.post(f"/api/v2/conversations/{conversation['id']}/messages", json={"text": "Hi"})).json()
        assert sent["message"]["channel"] == "whatsapp"
        meta.fail_next(400, 131026, "Message undeliverable")
        await app.parley.dispatcher.claim_and_send()
        moved = await until(lambda: _channel_is(app, sent["message"]["id"], "sms"))
        assert (moved.status, moved.fallback, moved.error_code) == ("queued", None, None)
        assert [(s["channel"], s["outcome"], s.get("code")) for s in moved.route] == [
            ("whatsapp", "failed", "131026"), ("sms", "queued", None)
        ]  # fmt: skip
        shown = (await agent.get(f"/api/v2/messages/{sent['message']['id']}")).json()
        assert [s["channel"] for s in shown["route"]] == ["whatsapp", "sms"] and shown["channel"] == "sms"
        assert any("going by SMS" in (h["detail"] or "") for h in shown["history"])


async def _channel_is(app: InProcess, message_id: str, channel: str) -> Any:
    found = await row(app, message_id)
    return found if found is not None and found.channel == channel else None


async def test_a_failed_status_and_an_overdue_delivery_fall_back_to_sms_once(tmp_path: Path) -> None:
    clock = Clock()
    number = {"fallback": "sms", "fallback_after": "10m"}
    async with FakeMeta() as meta, whatsapp_app(tmp_path, meta, clock, **number) as (app, agent):
        await write_on_whatsapp(app, meta, "Question", clock.now - timedelta(minutes=5))
        conversation = await the_conversation(agent)
        path = f"/api/v2/conversations/{conversation['id']}/messages"
        first = (await agent.post(path, json={"text": "One"})).json()["message"]
        second = (await agent.post(path, json={"text": "Two"})).json()["message"]
        await app.parley.dispatcher.claim_and_send()
        await until(lambda: _status_in(app, second["id"], ("sending",)))
        await until(lambda: _status_in(app, first["id"], ("sending",)))
        wamid = {m["text"]["body"]: m["id"] for m in meta.messages}
        # Meta says the first failed (131026 arrives as a status too): it goes by SMS at once.
        assert (await meta.post(URL, meta.status(wamid["One"], "failed", error_code=131026))).status_code == 200
        moved = await until(lambda: _channel_is(app, first["id"], "sms"))
        assert moved.route[0]["code"] == "131026"
        # The second is never delivered: ten minutes later it goes by SMS, once.
        assert await app.parley.deliveries.fall_back_overdue() == 0
        clock.now += timedelta(minutes=11)
        assert await app.parley.deliveries.fall_back_overdue() == 1
        late = await row(app, second["id"])
        assert late.channel == "sms" and "not delivered on WhatsApp in time" in late.route[0]["detail"]
        assert await app.parley.deliveries.fall_back_overdue() == 0


async def test_outside_the_window_with_fallback_the_text_goes_by_sms_at_once(tmp_path: Path) -> None:
    clock = Clock()
    async with FakeMeta() as meta, whatsapp_app(tmp_path, meta, clock) as (app, agent):
        await write_on_whatsapp(app, meta, "Old", clock.now - timedelta(days=2))
        conversation = await the_conversation(agent)
        path = f"/api/v2/conversations/{conversation['id']}/messages"
        sent = await agent.post(path, json={"text": "Back to you", "fallback": "sms"})
        assert sent.status_code == 201, sent.text
        message = sent.json()["message"]
        assert message["channel"] == "sms"
        assert [(s["channel"], s["outcome"]) for s in message["route"]] == [("whatsapp", "not sent"), ("sms", "queued")]
        assert "closed at" in message["route"][0]["detail"]


async def test_statuses_move_forward_only_and_a_failure_keeps_metas_code_and_title(tmp_path: Path) -> None:
    clock = Clock()
    async with FakeMeta() as meta, whatsapp_app(tmp_path, meta, clock) as (app, agent):
        await write_on_whatsapp(app, meta, "Question", clock.now - timedelta(minutes=5))
        conversation = await the_conversation(agent)
        path = f"/api/v2/conversations/{conversation['id']}/messages"
        one = (await agent.post(path, json={"text": "One"})).json()["message"]
        two = (await agent.post(path, json={"text": "Two"})).json()["message"]
        await app.parley.dispatcher.claim_and_send()
        await until(lambda: _status_in(app, one["id"], ("sending",)))
        await until(lambda: _status_in(app, two["id"], ("sending",)))
        wamid = {m["text"]["body"]: m["id"] for m in meta.messages}
        for status in ("sent", "read", "delivered"):  # a late "delivered" never overwrites "read"
            assert (await meta.post(URL, meta.status(wamid["One"], status))).status_code == 200
        assert (await until(lambda: _status_in(app, one["id"], ("read",)))).status == "read"
        assert (await meta.post(URL, meta.status(wamid["Two"], "failed", error_code=131026))).status_code == 200
        failed = await until(lambda: _status_in(app, two["id"], ("failed",)))
        assert failed.error_code == "131026" and "Message undeliverable" in failed.error


async def test_outside_the_window_an_approved_template_goes_and_an_unapproved_one_is_refused(tmp_path: Path) -> None:
    clock = Clock()
    async with FakeMeta() as meta, whatsapp_app(tmp_path, meta, clock) as (app, agent):
        meta.add_template("order_ready", "en_US", "UTILITY", "APPROVED", "Hi {{1}}, your order is ready.")
        meta.add_template("spring_sale", "en_US", "MARKETING", "PENDING", "Spring sale!")
        assert [r.error for r in await app.parley.whatsapp_templates.sync_all()] == [None]
        await write_on_whatsapp(app, meta, "Old question", clock.now - timedelta(days=3))
        conversation = await the_conversation(agent)
        path = f"/api/v2/conversations/{conversation['id']}/messages"
        pending = await agent.post(path, json={"template": {"name": "spring_sale", "language": "en_US"}})
        assert pending.status_code == 422 and "pending" in pending.text
        wrong = await agent.post(path, json={"template": {"name": "order_ready", "variables": []}})
        assert wrong.status_code == 422 and "takes 1" in wrong.text
        sent = await agent.post(path, json={"template": {"name": "order_ready", "variables": ["Kim"]}})
        assert sent.status_code == 201, sent.text
        message = sent.json()["message"]
        assert (message["channel"], message["body"]) == ("whatsapp", "Hi Kim, your order is ready.")
        assert message["template"]["name"] == "order_ready"
        await app.parley.dispatcher.claim_and_send()
        await until(lambda: _status_in(app, message["id"], ("sending",)))
        (template,) = [m["template"] for m in meta.messages]
        body = {"type": "body", "parameters": [{"type": "text", "text": "Kim"}]}
        assert template == {"name": "order_ready", "language": {"code": "en_US"}, "components": [body]}
