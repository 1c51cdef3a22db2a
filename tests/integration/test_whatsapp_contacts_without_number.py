"""A WhatsApp contact without a phone number (issue 12 §2; wire-formats "business-scoped user IDs"): `from_user_id`
replaces `from`, and conversations and messages show ``external_number``/``from`` null and ``external_id``."""

from __future__ import annotations

import time
from pathlib import Path

from tests.integration.test_whatsapp_reads import URL, whatsapp_app
from tests.support.app import ALICE, InProcess, console_client
from tests.support.fake_meta import FakeMeta

BSUID = "US.13491208655302741918"


def from_a_user_id(meta: FakeMeta, text: str, wamid: str) -> bytes:
    message = {"from_user_id": BSUID, "id": wamid, "timestamp": str(int(time.time())), "type": "text",
               "text": {"body": text}}  # fmt: skip
    contact = {"profile": {"name": "Kerry", "username": "@kerry"}, "user_id": BSUID}
    return meta.envelope({"contacts": [contact], "messages": [message]})


async def a_customer_without_a_number_writes(app: InProcess, meta: FakeMeta) -> str:
    assert (await meta.post(URL, from_a_user_id(meta, "Hi, no number here", "wamid.bsuid1"))).status_code == 200
    assert await app.parley.router.route_due() == 1
    async with app.client(ALICE) as alice:
        [conversation] = (await alice.get("/api/v2/conversations")).json()
    return str(conversation["id"])


async def test_conversations_and_messages_show_the_id_not_a_number(tmp_path: Path) -> None:
    meta = FakeMeta()
    async with whatsapp_app(tmp_path, meta) as app:
        cid = await a_customer_without_a_number_writes(app, meta)
        async with app.client(ALICE) as alice:
            [listed] = (await alice.get("/api/v2/conversations")).json()
            detail = (await alice.get(f"/api/v2/conversations/{cid}")).json()
            timeline = (await alice.get(f"/api/v2/conversations/{cid}/messages")).json()
            [message] = timeline["messages"]
            single = (await alice.get(f"/api/v2/messages/{message['id']}")).json()
        for conversation in (listed, detail):
            assert (conversation["external_number"], conversation["external_id"]) == (None, BSUID)
        for shown in (message, single):
            assert (shown["from"], shown["external_id"], shown["to"]) == (None, BSUID, "+15551230001")
            assert shown["channel"] == "whatsapp"


async def test_a_customer_with_a_number_keeps_it_and_has_no_id(tmp_path: Path) -> None:
    meta = FakeMeta()
    async with whatsapp_app(tmp_path, meta) as app:
        assert (await meta.post(URL, meta.inbound(text="Hi", wamid="wamid.n1"))).status_code == 200
        assert await app.parley.router.route_due() == 1
        async with app.client(ALICE) as alice:
            [conversation] = (await alice.get("/api/v2/conversations")).json()
            [message] = (await alice.get(f"/api/v2/conversations/{conversation['id']}/messages")).json()["messages"]
        assert (conversation["external_number"], conversation["external_id"]) == ("+15557654321", None)
        assert (message["from"], message["external_id"]) == ("+15557654321", None)


async def test_the_console_shows_the_contact_by_its_id(tmp_path: Path) -> None:
    meta = FakeMeta()
    async with whatsapp_app(tmp_path, meta) as app:
        cid = await a_customer_without_a_number_writes(app, meta)
        async with console_client(app, ALICE) as (console, _):
            page = await console.get(f"/inbox/{cid}")
        assert page.status_code == 200
        head = page.text.split('id="conv-head"', 1)[1].split("</header>", 1)[0]
        assert f"WhatsApp user {BSUID}" in head and "None" not in head
