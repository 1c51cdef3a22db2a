"""Meta's WhatsApp webhook (issue 12 §1): the handshake, signatures checked before parsing, messages stored once
under the transport their phone_number_id names, statuses reaching the receipts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import sqlalchemy as sa

from parley.store.tables import message_media, messages, receipts
from tests.support.app import InProcess, in_process
from tests.support.fake_meta import FakeMeta
from tests.support.provisioning import document

URL = "/api/v2/webhooks/whatsapp"
VERIFY = "verify-me-please"


@asynccontextmanager
async def whatsapp_app(tmp_path: Path, meta: FakeMeta) -> AsyncIterator[InProcess]:
    transport = {"name": "wa-main", "role": "whatsapp", "kind": "whatsapp", "number": "+15551230001",
                 "phone_number_id": meta.phone_number_id, "waba_id": meta.waba_id, "access_token": meta.access_token,
                 "app_secret": meta.app_secret, "verify_token": VERIFY, "api_base": meta.api_base}  # fmt: skip
    numbers = [{"number": "+15551230001", "whatsapp": True, "linked_service": "Support"}]
    async with in_process(tmp_path, document(numbers=numbers, transports=[transport])) as app:
        yield app


async def stored(app: InProcess) -> list[tuple[str, str, str, str]]:
    async with app.parley.db.read() as conn:
        rows = (await conn.execute(sa.select(messages).where(messages.c.direction == "in"))).all()
    return [(r.sender, r.recipient, r.body, r.channel) for r in rows]


async def test_the_handshake_answers_the_challenge_to_the_verify_token_only(tmp_path: Path) -> None:
    meta = FakeMeta()
    async with whatsapp_app(tmp_path, meta) as app, app.client() as meta_client:
        meta.client = meta_client
        ok = await meta.handshake(URL, VERIFY, challenge="1158201444")
        assert (ok.status_code, ok.text) == (200, "1158201444")
        wrong = await meta.handshake(URL, "not-it")
        assert wrong.status_code == 403 and "1158201444" not in wrong.text


async def test_a_signed_message_is_stored_once_as_whatsapp_with_its_media_pending(tmp_path: Path) -> None:
    meta = FakeMeta()
    async with whatsapp_app(tmp_path, meta) as app, app.client() as meta_client:
        meta.client = meta_client
        text = meta.inbound(text="Hi on WhatsApp", wamid="wamid.text1")
        assert (await meta.post(URL, text)).status_code == 200
        assert (await meta.post(URL, text)).status_code == 200  # Meta delivers again: stored once
        picture = meta.inbound(kind="image", part={"id": "media-77", "mime_type": "image/jpeg", "caption": "Look"})
        assert (await meta.post(URL, picture)).status_code == 200
        assert sorted(await stored(app)) == [
            ("+15557654321", "+15551230001", "Hi on WhatsApp", "whatsapp"),
            ("+15557654321", "+15551230001", "Look", "whatsapp"),
        ]
        async with app.parley.db.read() as conn:
            media = (await conn.execute(sa.select(message_media))).all()
        assert [(m.source, m.transport, m.state) for m in media] == [("media-77", "wa-main", "pending")]


async def test_a_forged_signature_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    meta = FakeMeta()
    async with whatsapp_app(tmp_path, meta) as app, app.client() as client:
        body = meta.inbound(text="forged")
        forged = await client.post(URL, content=body, headers={**meta.sign(body), "X-Hub-Signature-256": "sha256=00"})
        assert forged.status_code == 403
        unsigned = await client.post(URL, content=body, headers={"Content-Type": "application/json"})
        assert unsigned.status_code == 403
        tampered = await client.post(URL, content=body.replace(b"forged", b"FORGED"), headers=meta.sign(body))
        assert tampered.status_code == 403
        assert await stored(app) == []


async def test_a_message_for_a_number_no_transport_serves_is_answered_200_and_ignored(tmp_path: Path) -> None:
    meta = FakeMeta()
    async with whatsapp_app(tmp_path, meta) as app, app.client() as meta_client:
        meta.client = meta_client
        meta.phone_number_id = "999999"  # another number of the same Meta app
        assert (await meta.post(URL, meta.inbound(text="not ours"))).status_code == 200
        assert await stored(app) == []


async def test_statuses_reach_the_receipts_and_a_bad_body_is_a_400(tmp_path: Path) -> None:
    meta = FakeMeta()
    async with whatsapp_app(tmp_path, meta) as app, app.client() as meta_client:
        meta.client = meta_client
        assert (await meta.post(URL, meta.status("wamid.out1", "read"))).status_code == 200
        async with app.parley.db.read() as conn:
            rows = (await conn.execute(sa.select(receipts))).all()
        assert [(r.transport, r.carrier_id, r.state) for r in rows] == [("wa-main", "wamid.out1", "read")]
        bad = await meta.post(URL, b"{not json")
        assert bad.status_code == 400
