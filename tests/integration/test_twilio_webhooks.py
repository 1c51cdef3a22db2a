"""Twilio's webhooks through the real app in-process: inbound SMS/MMS at /api/v2/webhooks/twilio and status callbacks
at /api/v2/webhooks/twilio/status, sent and signed by the local "Twilio" (tests/support/fake_twilio.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from parley.app import create_app
from parley.bootstrap import build, utcnow
from parley.channels.base import Inbound
from parley.services.delivery import Delivered
from parley.settings import Settings
from parley.store.tables import messages, receipts
from tests.support.app import InProcess, in_process
from tests.support.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.support.outbound import add_outbound
from tests.support.provisioning import document

INBOUND = "http://parley.test/api/v2/webhooks/twilio"
STATUS = "http://parley.test/api/v2/webhooks/twilio/status"
OTHER_SID, OTHER_TOKEN = "AC" + "f" * 32, "the-other-accounts-token"
FALLBACK_TOKEN = "webhooks-section-token"


def transport(name: str, sid: str = ACCOUNT_SID, token: str = AUTH_TOKEN) -> dict[str, Any]:
    return {"name": name, "role": "carrier", "kind": "twilio", "account_sid": sid, "auth_token": token,
            "api_base": "http://127.0.0.1:9"}  # fmt: skip


class Handed:
    """Records what the webhook hands to the inbox (its `Inbound`), then lets the inbox store it."""

    def __init__(self, running: InProcess) -> None:
        self.inbounds: list[tuple[str, Inbound]] = []
        inbox = running.parley.inbox
        self._receive = inbox.receive
        inbox.receive = self  # type: ignore[method-assign]

    async def __call__(self, transport: str, inbound: Inbound, **kwargs: Any) -> str | None:
        self.inbounds.append((transport, inbound))
        return await self._receive(transport, inbound, **kwargs)


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as fake:
        yield fake


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    doc = document(transports=[transport("twilio-us"), transport("twilio-eu", OTHER_SID, OTHER_TOKEN)])
    async with in_process(tmp_path, doc) as running:
        yield running


async def stored(running: InProcess) -> list[dict[str, Any]]:
    async with running.parley.db.read() as conn:
        query = sa.select(messages).where(messages.c.direction == "in").order_by(messages.c.id)
        return [dict(row._mapping) for row in await conn.execute(query)]


async def stored_receipts(running: InProcess) -> list[tuple[str, str, str, str, str]]:
    async with running.parley.db.read() as conn:
        query = sa.select(receipts.c.transport, receipts.c.carrier_id, receipts.c.state, receipts.c.stat,
                          receipts.c.err).order_by(receipts.c.id)  # fmt: skip
        return [tuple(row) for row in await conn.execute(query)]


# --- inbound ---------------------------------------------------------------------------------------------------------


async def test_a_signed_inbound_mms_is_stored_with_its_media_and_channel_mms(
    app: InProcess, twilio: FakeTwilio
) -> None:
    handed = Handed(app)
    async with app.client() as client:
        sent = await twilio.send_inbound(INBOUND, body="Two pictures", pictures=2, client=client)
    assert sent.response.status_code == 200 and "<Response>" in sent.response.text
    assert sent.response.headers["content-type"].startswith("text/xml")
    [(name, inbound)] = handed.inbounds
    assert name == "twilio-us"
    assert inbound.channel == "mms"
    assert inbound.media == tuple(m.url for m in sent.media) and len(inbound.media) == 2
    [row] = await stored(app)
    assert (row["transport"], row["carrier_id"], row["body"]) == ("twilio-us", sent.sid, "Two pictures")
    assert (row["sender"], row["recipient"]) == ("+15557654321", "+15551230001")


async def test_a_signed_inbound_sms_has_no_media(app: InProcess, twilio: FakeTwilio) -> None:
    handed = Handed(app)
    async with app.client() as client:
        sent = await twilio.send_inbound(INBOUND, body="Plain text", client=client)
    assert sent.response.status_code == 200
    [(_, inbound)] = handed.inbounds
    assert (inbound.channel, inbound.media, inbound.text) == ("sms", (), "Plain text")


@pytest.mark.parametrize(
    "signing",
    [
        pytest.param({"signature": "bm90IHR3aWxpbw=="}, id="forged"),
        pytest.param({"signature": ""}, id="missing"),
        pytest.param({"auth_token": OTHER_TOKEN}, id="another-accounts-token"),
        pytest.param({"signed_url": "http://parley.test/api/v2/webhooks/other"}, id="another-url"),
    ],
)
async def test_a_badly_signed_inbound_message_is_refused_and_nothing_is_stored(
    app: InProcess, twilio: FakeTwilio, signing: dict[str, str]
) -> None:
    async with app.client() as client:
        sent = await twilio.send_inbound(INBOUND, body="Forged", pictures=1, client=client, **signing)
    assert sent.response.status_code == 403
    assert sent.response.json()["error"]["field"] == "X-Twilio-Signature"
    assert await stored(app) == []


async def test_the_account_sid_picks_the_transport_and_its_token(app: InProcess, twilio: FakeTwilio) -> None:
    async with app.client() as client:
        us = await twilio.send_inbound(INBOUND, body="to us", client=client)
        eu = await twilio.send_inbound(
            INBOUND, body="to eu", client=client, account_sid=OTHER_SID, auth_token=OTHER_TOKEN
        )
        crossed = await twilio.send_inbound(INBOUND, body="crossed", client=client, account_sid=OTHER_SID)
    assert (us.response.status_code, eu.response.status_code, crossed.response.status_code) == (200, 200, 403)
    assert [(r["transport"], r["body"]) for r in await stored(app)] == [("twilio-us", "to us"), ("twilio-eu", "to eu")]


async def test_without_a_transport_for_the_account_the_webhooks_token_is_used(
    tmp_path: Path, twilio: FakeTwilio
) -> None:
    doc = document(transports=[transport("twilio-eu", OTHER_SID, OTHER_TOKEN)],
                   webhooks={"twilio_auth_token": FALLBACK_TOKEN})  # fmt: skip
    async with in_process(tmp_path, doc) as running, running.client() as client:
        good = await twilio.send_inbound(INBOUND, body="fallback", client=client, auth_token=FALLBACK_TOKEN)
        own = await twilio.send_inbound(INBOUND, body="own token", client=client)  # no transport has that token
        assert (good.response.status_code, own.response.status_code) == (200, 403)
        assert [(r["transport"], r["body"]) for r in await stored(running)] == [("twilio", "fallback")]


async def test_without_a_transport_or_a_webhooks_token_the_webhooks_are_not_found(
    tmp_path: Path, twilio: FakeTwilio
) -> None:
    async with in_process(tmp_path, document()) as running, running.client() as client:
        inbound = await twilio.send_inbound(INBOUND, body="nobody", client=client)
        status = await twilio.post_status("SM1", ["sent"], url=STATUS, client=client)
        assert inbound.response.status_code == 404 and [r.status_code for r in status] == [404]
        assert await stored(running) == [] and await stored_receipts(running) == []


# --- status callbacks ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "error_code", "expected"),
    [
        pytest.param(["sent", "delivered"], None, [("sent", "sent", ""), ("delivered", "delivered", "")], id="ok"),
        pytest.param(["failed"], "30006", [("failed", "failed", "30006")], id="failed-with-code"),
        pytest.param(["undelivered"], "30003", [("undelivered", "undelivered", "30003")], id="undelivered"),
        pytest.param(["queued"], None, [("sending", "queued", "")], id="queued-is-sending"),
    ],
)
async def test_a_signed_status_callback_reaches_the_receipts_table(
    app: InProcess, twilio: FakeTwilio, statuses: list[str], error_code: str | None, expected: list[tuple[str, ...]]
) -> None:
    async with app.client() as client:
        answers = await twilio.post_status("SMfeedface", statuses, error_code=error_code, url=STATUS, client=client)
    assert [(a.status_code, a.content) for a in answers] == [(200, b"")] * len(statuses)
    assert await stored_receipts(app) == [("twilio-us", "SMfeedface", *row) for row in expected]


async def test_status_callbacks_turn_a_sent_message_delivered(app: InProcess, twilio: FakeTwilio) -> None:
    deliveries = app.parley.deliveries
    await add_outbound(app.parley.db, ["m1"], now=utcnow(), status="sending")
    await deliveries.record(Delivered("m1", "twilio-eu", ("SMcafe",)))
    async with app.client() as client:
        answers = await twilio.post_status("SMcafe", ["sent", "delivered"], url=STATUS, client=client,
                                           account_sid=OTHER_SID, auth_token=OTHER_TOKEN)  # fmt: skip
    assert [a.status_code for a in answers] == [200, 200]
    async with app.parley.db.read() as conn:
        assert await conn.scalar(sa.select(messages.c.status).where(messages.c.id == "m1")) == "delivered"


@pytest.mark.parametrize(
    "signing",
    [
        pytest.param({"signature": "bm90IHR3aWxpbw=="}, id="forged"),
        pytest.param({"signature": ""}, id="missing"),
        pytest.param({"auth_token": "guessed"}, id="wrong-token"),
    ],
)
async def test_a_badly_signed_status_callback_is_refused_and_nothing_is_stored(
    app: InProcess, twilio: FakeTwilio, signing: dict[str, str]
) -> None:
    async with app.client() as client:
        [answer] = await twilio.post_status("SM1", ["delivered"], url=STATUS, client=client, **signing)
    assert answer.status_code == 403
    assert await stored_receipts(app) == []


async def test_a_status_callback_without_message_sid_names_the_field(app: InProcess, twilio: FakeTwilio) -> None:
    async with app.client() as client:
        [answer] = await twilio.post_status("", ["sent"], url=STATUS, client=client)
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "MessageSid"
    assert await stored_receipts(app) == []


# --- the URL Twilio signed -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("public_url", "signed", "status"),
    [
        pytest.param(
            "https://sms.example.com",
            "https://sms.example.com/api/v2/webhooks/twilio/status",
            200,
            id="public-url-another-host",
        ),
        pytest.param(
            "https://sms.example.com/",
            "https://sms.example.com/api/v2/webhooks/twilio/status",
            200,
            id="trailing-slash",
        ),
        pytest.param(
            "https://example.com/parley",
            "https://example.com/parley/api/v2/webhooks/twilio/status",
            200,
            id="public-url-with-a-path-behind-a-proxy",
        ),
        pytest.param(
            "https://sms.example.com",
            "http://parley.test/api/v2/webhooks/twilio/status",
            200,
            id="the-requests-own-url-still-verifies",
        ),
        pytest.param(
            "https://sms.example.com",
            "https://evil.example.com/api/v2/webhooks/twilio/status",
            403,
            id="any-other-url-does-not",
        ),
    ],
)
async def test_the_status_callback_verifies_against_parley_public_url(
    tmp_path: Path, twilio: FakeTwilio, public_url: str, signed: str, status: int
) -> None:
    doc = document(transports=[transport("twilio-us")])
    async with in_process(tmp_path, doc, public_url=public_url) as running, running.client() as client:
        [answer] = await twilio.post_status("SM1", ["delivered"], url=STATUS, signed_url=signed, client=client)
        inbound = await twilio.send_inbound(INBOUND, body="hi", client=client,
                                            signed_url=signed.removesuffix("/status"))  # fmt: skip
        assert (answer.status_code, inbound.response.status_code) == (status, status)
        assert len(await stored_receipts(running)) == (1 if status == 200 else 0)


# --- the database down -----------------------------------------------------------------------------------------------


async def test_a_status_callback_is_answered_503_when_the_database_is_down(tmp_path: Path, twilio: FakeTwilio) -> None:
    parley = build(Settings(database_url="postgresql+asyncpg://parley@127.0.0.1:9/none", smtp=""))
    try:
        transport_ = httpx.ASGITransport(app=create_app(parley, workers=False))
        async with httpx.AsyncClient(transport=transport_, base_url="http://parley.test") as client:
            [answer] = await twilio.post_status("SM1", ["delivered"], url=STATUS, client=client)
            inbound = await twilio.send_inbound(INBOUND, body="hi", client=client)
    finally:
        await parley.close()
    assert (answer.status_code, inbound.response.status_code) == (503, 503)
    assert "try again later" in answer.json()["error"]["reason"]


async def test_a_receipt_write_that_fails_on_the_database_is_a_503(app: InProcess, twilio: FakeTwilio) -> None:
    async def down(transport: str, receipt: Any) -> None:
        raise ConnectionRefusedError("the database went away")

    app.parley.deliveries.receipt = down  # type: ignore[method-assign]
    async with app.client() as client:
        [answer] = await twilio.post_status("SM1", ["delivered"], url=STATUS, client=client)
    assert answer.status_code == 503
