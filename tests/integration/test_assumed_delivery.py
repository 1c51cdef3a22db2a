"""Bulk delivery state (issue 14 §5): a transport without receipts may count what it took as delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from parley.services.campaigns import view
from parley.store import campaigns, messages
from parley.store.db import Database
from tests.support.app import ALICE, console_client, in_process
from tests.support.http_sink import HttpSink
from tests.support.provisioning import document
from tests.support.server import wait_until


def curl(url: str, **options: Any) -> dict[str, Any]:
    return {"name": "http", "role": "curl", "kind": "curl", **options,
            "command": f'curl "{url}/send?to={{TO_NUMBER}}&text={{MESSAGE}}"'}  # fmt: skip


async def _dispatch(app: Any, api: Any) -> dict[str, Any]:
    sent = await api.post("/api/v2/messages", json={"to": "+15551234567", "text": "Bulk hello"})
    assert sent.status_code == 201, sent.text
    message_id = sent.json()["messages"][0]["id"]
    await app.parley.transports.start()
    assert await app.parley.dispatcher.claim_and_send() == 1

    async def settled() -> Any:
        body = (await api.get(f"/api/v2/messages/{message_id}")).json()
        return body if body["status"] in ("sent", "delivered", "failed") else None

    return dict(await wait_until(settled))


async def test_a_transport_that_assumes_delivery_marks_handed_over_messages_delivered(tmp_path: Path) -> None:
    async with HttpSink() as sink:
        doc = document(transports=[curl(sink.url, assume_delivered=True)])
        async with in_process(tmp_path, doc) as app, app.client(ALICE) as api:
            body = await _dispatch(app, api)
            assert (body["status"], body["delivery_assumed"]) == ("delivered", True)
            assert body["history"][-1]["detail"] == "delivered (assumed): the transport gives no receipts"
            assert len(sink.requests) == 1
            async with console_client(app, ALICE) as (alice, _):
                stats = await alice.get("/stats")
            assert "delivered (assumed)" in stats.text


async def test_without_the_setting_a_handed_over_message_stays_sent(tmp_path: Path) -> None:
    async with HttpSink() as sink:
        doc = document(transports=[curl(sink.url)])
        async with in_process(tmp_path, doc) as app, app.client(ALICE) as api:
            body = await _dispatch(app, api)
            assert (body["status"], body["delivery_assumed"]) == ("sent", False)


async def _campaign_message(db: Database, mid: str, status: str, assumed: bool) -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    row = {"id": mid, "direction": "out", "user_id": None, "sender": "ACME", "recipient": "+15551234567",
           "body": "hi", "status": status, "segments": 1, "encoding": "gsm7", "source": "campaign",
           "campaign_id": "c1", "delivery_assumed": assumed, "created_at": now, "updated_at": now}  # fmt: skip
    async with db.write() as conn:
        await messages.add_all(conn, [row])


async def test_campaign_counters_say_delivered_assumed_apart_from_confirmed(db: Database) -> None:
    await _campaign_message(db, "m1", "delivered", assumed=True)
    await _campaign_message(db, "m2", "delivered", assumed=True)
    await _campaign_message(db, "m3", "delivered", assumed=False)
    await _campaign_message(db, "m4", "failed", assumed=False)
    async with db.read() as conn:
        counts = await campaigns.counts(conn, "c1")
    assert counts == {"messages.delivered (assumed)": 2, "messages.delivered": 1, "messages.failed": 1}
    campaign = SimpleNamespace(
        id="c1", name="Promo", status="running", sender_type="alphanumeric", sender="ACME", channel="sms",
        template="hi", whatsapp_template=None, list_id=None, start_at=None, hours=None, created_at=None,
        started_at=None, completed_at=None, error=None, total=4, invalid=0,
    )  # fmt: skip
    counters = view(campaign, counts)["counters"]  # type: ignore[arg-type]
    assert (counters["delivered"], counters["delivered_assumed"], counters["failed"]) == (1, 2, 1)


async def test_an_admin_ticks_assume_delivered_on_a_curl_transport(tmp_path: Path) -> None:
    async with in_process(tmp_path, document()) as app, console_client(app, ALICE) as (alice, csrf):
        form = await alice.get("/admin/transports/new?kind=curl")
        assert 'name="assume_delivered"' in form.text
        data = {"csrf": csrf, "kind": "curl", "name": "http", "role": "curl", "assume_delivered": "on",
                "command": 'curl "http://127.0.0.1:9/send?to={TO_NUMBER}&text={MESSAGE}"'}  # fmt: skip
        added = await alice.post("/admin/transports/new", data=data)
        assert added.status_code == 303, added.text
        page = await alice.get("/admin/transports/http")
        assert 'name="assume_delivered" value="on" checked' in page.text
        untick = {k: v for k, v in data.items() if k not in ("assume_delivered", "name", "kind")}
        assert (await alice.post("/admin/transports/http", data=untick)).status_code == 303
        assert 'value="on" checked' not in (await alice.get("/admin/transports/http")).text


async def test_the_message_report_says_delivered_assumed(tmp_path: Path) -> None:
    async with in_process(tmp_path, document()) as app, console_client(app, ALICE) as (alice, _):
        now = datetime.now(UTC)
        row = {"id": "m1", "direction": "out", "user_id": 1, "sender": "+15551230001", "recipient": "+15551234567",
               "body": "hi", "status": "delivered", "segments": 1, "encoding": "gsm7", "source": "api",
               "delivery_assumed": True, "created_at": now, "updated_at": now}  # fmt: skip
        async with app.parley.db.write() as conn:
            await messages.add_all(conn, [row])
        days = {
            "first": (now - timedelta(days=2)).date().isoformat(),
            "last": (now + timedelta(days=2)).date().isoformat(),
        }
        csv = await alice.get("/stats/messages.csv", params={"period": "custom", **days})
        assert csv.status_code == 200, csv.text
        assert "delivered (assumed)" in csv.text
