"""Reply links end to end through the app in-process: made per recipient, opened, posted through, refused."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from parley.channels.base import Inbound
from parley.core import reply_links as rules
from parley.services.directory import User
from parley.services.events import Event
from parley.store.conversations import ConversationFilter
from parley.store.tables import jobs, messages, reply_links
from tests.conftest import Clock
from tests.support.app import ALICE, InProcess, console_client, in_process
from tests.support.provisioning import document

PUBLIC = "https://sms.example.com"
COMPANY, ANN, BEN = "+15551230001", "+15557654321", "+15557654322"
LINK = re.compile(re.escape(PUBLIC) + r"/r/([A-Za-z0-9]{12})")


@pytest.fixture
async def app(tmp_path: Path, clock: Clock) -> AsyncIterator[InProcess]:
    doc = document()
    doc["pbx"] = {**doc["pbx"], "company_name": "Acme Support"}
    async with in_process(tmp_path, doc, clock=clock, public_url=PUBLIC) as found:
        yield found


async def send(app: InProcess, to: list[str], text: str) -> dict[str, Any]:
    async with app.client(ALICE) as client:
        answer = await client.post("/api/v2/messages", json={"to": to, "text": text})
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def token_for(app: InProcess, customer: str) -> str:
    async with app.parley.db.read() as conn:
        bodies = (await conn.execute(sa.select(messages.c.body).where(messages.c.recipient == customer))).scalars()
        found = [m.group(1) for body in bodies if (m := LINK.search(body))]
    assert found
    return found[-1]


async def stored(app: InProcess) -> int:
    async with app.parley.db.read() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(messages)) or 0)


async def post(app: InProcess, token: str, text: str, *, address: str = "127.0.0.1") -> httpx.Response:
    async with app.client(address=address) as client:
        return await client.post(f"/r/{token}", data={"text": text}, headers={"Accept": "application/json"})


async def test_a_send_makes_one_link_per_recipient_and_counts_the_real_link(app: InProcess) -> None:
    text = "Your order shipped. Questions? Answer here: {reply_link}"
    result = await send(app, [ANN, BEN], text)
    bodies = {m["to"]: m["body"] for m in result["messages"]}
    tokens = {to: LINK.search(body).group(1) for to, body in bodies.items()}  # type: ignore[union-attr]
    assert tokens[ANN] != tokens[BEN]
    assert all("{reply_link}" not in body for body in bodies.values())
    async with app.parley.db.read() as conn:
        rows = (await conn.execute(sa.select(reply_links))).all()
        segments = dict((await conn.execute(sa.select(messages.c.recipient, messages.c.segments))).all())
    assert {(r.customer, r.company_number, r.token_hash) for r in rows} == {
        (to, COMPANY, rules.token_hash(token)) for to, token in tokens.items()
    }  # only the hash is stored; the link is bound to the customer and the company number
    assert all(r.message_id in {m["id"] for m in result["messages"]} for r in rows)
    long = await send(app, ["+15557654323"], "x" * 130 + " {reply_link}")  # 143 typed, 169 sent: two segments
    assert long["messages"][0]["segments"] == 2 and segments[ANN] == 1


async def test_the_page_shows_the_company_and_the_message_and_is_safe_to_open(app: InProcess) -> None:
    await send(app, [ANN], "Your table is booked. Answer: {reply_link}")
    token = await token_for(app, ANN)
    async with app.client() as client:
        page = await client.get(f"/r/{token}")
    assert page.status_code == 200
    assert "Acme Support" in page.text and "Your table is booked. Answer: " in page.text
    assert "<script>" not in page.text and 'src="http' not in page.text and 'href="http' not in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"


async def test_posting_through_the_link_lands_in_the_customers_sms_conversation_on_channel_web(
    app: InProcess,
) -> None:
    await app.parley.inbox.receive("carrier", Inbound(ANN, COMPANY, "Hello by SMS"))
    await send(app, [ANN], "Answer here: {reply_link}")
    await app.parley.router.route_due()
    token = await token_for(app, ANN)
    answer = await post(app, token, "Hello from the page", address="10.0.0.9")
    assert answer.status_code == 200, answer.text
    await app.parley.router.route_due()
    async with app.parley.db.read() as conn:
        rows = (
            await conn.execute(sa.select(messages).where(messages.c.direction == "in").order_by(messages.c.id))
        ).all()
    assert [(r.body, r.channel, r.sender, r.recipient) for r in rows] == [
        ("Hello by SMS", "sms", ANN, COMPANY), ("Hello from the page", "web", ANN, COMPANY),
    ]  # fmt: skip
    assert rows[0].conversation_id is not None and rows[0].conversation_id == rows[1].conversation_id
    async with app.client(ALICE) as client:
        timeline = await client.get(f"/api/v2/conversations/{rows[0].conversation_id}/messages")
    assert "web" in [m["channel"] for m in timeline.json()["messages"]]


async def test_a_form_post_without_script_redirects_back_to_the_page(app: InProcess) -> None:
    await send(app, [ANN], "Answer here: {reply_link}")
    token = await token_for(app, ANN)
    async with app.client() as client:
        answer = await client.post(f"/r/{token}", data={"text": "No script here"})
        assert (answer.status_code, answer.headers["location"]) == (303, f"/r/{token}")
        bad = await client.post(f"/r/{token}", data={"text": "   "})
    assert bad.status_code == 422 and "the message is empty" in bad.text


@pytest.mark.parametrize("kind", ["tampered", "unknown", "malformed", "expired"])
async def test_a_link_that_is_no_longer_valid_shows_a_plain_page_and_stores_nothing(
    app: InProcess, clock: Clock, kind: str
) -> None:
    await send(app, [ANN], "Answer here: {reply_link}")
    token = await token_for(app, ANN)
    used = {
        "tampered": token[:-1] + ("a" if token[-1] != "a" else "b"),
        "unknown": rules.new_token(),
        "malformed": token + "%2F..",
        "expired": token,
    }[kind]
    if kind == "expired":
        clock.advance(days=31)
    before = await stored(app)
    async with app.client() as client:
        page = await client.get(f"/r/{used}")
        posted = await client.post(f"/r/{used}", data={"text": "Let me in"})
        stream = await client.get(f"/r/{used}/events")
    status = 410 if kind == "expired" else 404
    assert (page.status_code, posted.status_code, stream.status_code) == (status, status, status)
    assert "This link is no longer valid" in page.text and "Let me in" not in posted.text
    assert await stored(app) == before


async def test_the_lifetime_is_a_setting(tmp_path: Path, clock: Clock) -> None:
    doc = document()
    doc["pbx"] = {**doc["pbx"], "reply_link_days": 2}
    async with in_process(tmp_path, doc, clock=clock, public_url=PUBLIC) as app:
        await send(app, [ANN], "Answer here: {reply_link}")
        token = await token_for(app, ANN)
        clock.advance(days=1)
        assert (await post(app, token, "day one")).status_code == 200
        clock.advance(days=1, seconds=1)
        assert (await post(app, token, "day two")).status_code == 410


async def test_posting_is_limited_per_link_and_per_address(app: InProcess, clock: Clock) -> None:
    customers = [f"+1555765{i:04d}" for i in range(5)]
    await send(app, customers, "Answer here: {reply_link}")
    tokens = [await token_for(app, c) for c in customers]
    per_link = rules.RATES["link"].posts
    codes = [(await post(app, tokens[0], f"m{i}", address=f"10.0.1.{i}")).status_code for i in range(per_link + 1)]
    assert codes == [200] * per_link + [429]
    before = await stored(app)
    refused = await post(app, tokens[0], "one more", address="10.0.2.1")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert await stored(app) == before  # a refused post stores nothing
    per_address = rules.RATES["address"].posts
    sent = [(await post(app, tokens[1 + i // 9], f"a{i}", address="10.0.3.3")).status_code for i in range(per_address)]
    assert sent == [200] * per_address
    assert (await post(app, tokens[4], "too many from here", address="10.0.3.3")).status_code == 429
    assert (await post(app, tokens[4], "another address", address="10.0.3.4")).status_code == 200
    clock.advance(minutes=1, seconds=1)
    assert (await post(app, tokens[0], "a new minute", address="10.0.2.1")).status_code == 200


async def test_another_customers_link_cannot_post_into_this_conversation(app: InProcess) -> None:
    await send(app, [ANN, BEN], "Answer here: {reply_link}")
    ann, ben = await token_for(app, ANN), await token_for(app, BEN)
    async with app.client() as client:  # fields that name someone else are ignored: the link's row decides
        await client.post(f"/r/{ben}", data={"text": "From Ben", "sender": ANN, "to": "+15550000000"})
    await post(app, ann, "From Ann")
    await app.parley.router.route_due()
    async with app.parley.db.read() as conn:
        rows = (await conn.execute(sa.select(messages).where(messages.c.channel == "web"))).all()
    by_body = {r.body: r for r in rows}
    assert (by_body["From Ben"].sender, by_body["From Ben"].recipient) == (BEN, COMPANY)
    assert by_body["From Ann"].sender == ANN
    assert by_body["From Ben"].conversation_id != by_body["From Ann"].conversation_id


async def test_a_campaign_with_reply_link_makes_a_link_per_recipient(app: InProcess) -> None:
    parley = app.parley
    alice = await parley.cache.user("101")
    assert alice is not None
    draft = await parley.campaigns.create(
        alice, {"name": "Links", "sender": COMPANY, "message": "Hi {first_name}, answer: {reply_link}"}
    )
    csv = io.BytesIO(f"number,first_name\n{ANN},Ann\n{BEN},Ben\n".encode())
    await parley.campaigns.upload(alice, draft["id"], csv)
    await parley.campaigns.start(alice, draft["id"])
    assert await parley.campaign_runner.tick() == 2
    async with parley.db.read() as conn:
        sent = dict((await conn.execute(sa.select(messages.c.recipient, messages.c.body))).all())
        links = {r.customer: r for r in (await conn.execute(sa.select(reply_links))).all()}
    assert sent[ANN].startswith("Hi Ann, answer: https://sms.example.com/r/")
    assert set(links) == {ANN, BEN} and LINK.search(sent[ANN]).group(1) != LINK.search(sent[BEN]).group(1)  # type: ignore[union-attr]
    for customer, body in sent.items():
        token = LINK.search(body).group(1)  # type: ignore[union-attr]
        assert links[customer].token_hash == rules.token_hash(token)
    page = await app.client().get(f"/r/{LINK.search(sent[ANN]).group(1)}")  # type: ignore[union-attr]
    assert "Hi Ann, answer:" in page.text


async def test_an_agents_reply_goes_on_the_page_while_the_customer_is_there_else_by_sms(app: InProcess) -> None:
    parley = app.parley
    await send(app, [ANN], "Answer here: {reply_link}")
    token = await token_for(app, ANN)
    await post(app, token, "Is it in stock?")
    await parley.router.route_due()
    alice = await parley.cache.user("101")
    assert isinstance(alice, User)
    [conversation] = await parley.conversations.list_(alice, ConversationFilter())
    chat = await parley.reply_links.open(token)
    await parley.reply_links.present(chat.link_id, True)
    on_page = await parley.conversations.post(alice, conversation["id"], "Yes, it is")
    await parley.reply_links.present(chat.link_id, False)
    by_sms = await parley.conversations.post(alice, conversation["id"], "Anything else?")
    assert on_page.message is not None and by_sms.message is not None
    assert (on_page.message["channel"], on_page.message["status"]) == ("web", "delivered")
    assert by_sms.message["channel"] == "sms"
    async with parley.db.read() as conn:
        queued = set((await conn.execute(sa.select(jobs.c.message_id))).scalars())
    assert by_sms.message["id"] in queued and on_page.message["id"] not in queued  # no carrier for the page
    assert on_page.message["charge"] is None


async def test_the_pages_stream_takes_only_messages_between_its_two_numbers(app: InProcess) -> None:
    await send(app, [ANN], "Answer here: {reply_link}")
    chat = await app.parley.reply_links.open(await token_for(app, ANN))

    def created(**message: Any) -> Event:
        base = {"id": "m1", "body": "hi", "status": "sent", "created_at": "2026-11-30T12:00:00+00:00"}
        return Event("message.created", {"conversation_id": "c", "message_id": "m1", "message": {**base, **message}})

    assert chat.shown_event(created(direction="out", sender=COMPANY, recipient=ANN)) == {
        "id": "m1", "mine": False, "text": "hi", "at": "2026-11-30T12:00:00+00:00",
    }  # fmt: skip
    assert chat.shown_event(created(direction="in", sender=ANN, recipient=COMPANY))["mine"] is True  # type: ignore[index]
    for other in [
        created(direction="out", sender=COMPANY, recipient=BEN),
        created(direction="in", sender=BEN, recipient=COMPANY),
        created(direction="out", sender="+15551239999", recipient=ANN),
        created(direction="in", sender=ANN, recipient=COMPANY, status="blocked"),
        Event("conversation.updated", {"conversation_id": "c"}),
    ]:
        assert chat.shown_event(other) is None


async def test_the_consoles_counter_counts_the_real_link(app: InProcess) -> None:
    text = "x" * 130 + " {reply_link}"  # 143 characters as typed; 169 with the link
    async with console_client(app, ALICE) as (client, _csrf):
        counted = await client.get("/compose/count", params={"text": text})
    link = len(rules.sample_link(PUBLIC))
    assert f"{len(text) - len('{reply_link}') + link} characters" in counted.text and "2 segments" in counted.text


async def test_a_conversation_reply_with_reply_link_binds_the_link_to_the_conversations_numbers(
    app: InProcess,
) -> None:
    parley = app.parley
    await parley.inbox.receive("carrier", Inbound(ANN, COMPANY, "Hello"))
    await parley.router.route_due()
    alice = await parley.cache.user("101")
    assert alice is not None
    [conversation] = await parley.conversations.list_(alice, ConversationFilter())
    posted = await parley.conversations.post(alice, conversation["id"], "Chat with us here: {reply_link}")
    assert posted.message is not None and posted.message["channel"] == "sms"
    token = LINK.search(posted.message["body"]).group(1)  # type: ignore[union-attr]
    chat = await parley.reply_links.open(token)
    assert (chat.customer, chat.company_number) == (ANN, COMPANY)
    assert chat.messages[0]["text"] == posted.message["body"]


async def test_an_admin_sets_the_company_name_and_the_lifetime_in_the_console(app: InProcess, clock: Clock) -> None:
    async with console_client(app, ALICE) as (client, csrf):
        page = await client.get("/admin/reply-links")
        assert page.status_code == 200 and 'value="Acme Support"' in page.text and 'value="30"' in page.text
        wrong = await client.post(
            "/admin/reply-links", data={"csrf": csrf, "company_name": "Acme", "reply_link_days": "0"}
        )
        assert wrong.status_code == 422 and "from 1 to 365" in wrong.text
        done = await client.post(
            "/admin/reply-links", data={"csrf": csrf, "company_name": "Acme Bikes", "reply_link_days": "3"}
        )
        assert done.status_code == 303
    await send(app, [ANN], "Answer here: {reply_link}")
    token = await token_for(app, ANN)
    async with app.client() as client:
        assert "Acme Bikes" in (await client.get(f"/r/{token}")).text
    clock.advance(days=3)
    assert (await post(app, token, "too late")).status_code == 410
    async with console_client(app, ("102", "bob-secret")) as (client, csrf):
        assert (await client.get("/admin/reply-links")).status_code == 403


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"text=" + b"x" * (rules.MAX_POST_BYTES + 1), 413),
        (b'{"text": "json"}', 422),
        (b"text=%FF%FE", 422),
        (b"text=" + b"y" * (rules.MAX_TEXT + 1), 422),
    ],
    ids=["too-large", "json", "not-utf8", "too-long"],
)
async def test_a_hostile_post_is_refused_and_stores_nothing(app: InProcess, content: bytes, status: int) -> None:
    await send(app, [ANN], "Answer here: {reply_link}")
    token = await token_for(app, ANN)
    before = await stored(app)

    async def chunks() -> Any:  # no Content-Length: the limit holds while reading
        for start in range(0, len(content), 4096):
            yield content[start : start + 4096]

    async with app.client() as client:
        answer = await client.post(f"/r/{token}", content=chunks(), headers={"Accept": "application/json"})
    assert answer.status_code == status and answer.json()["field"] == "text"
    assert await stored(app) == before
