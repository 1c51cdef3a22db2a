"""Campaigns on WhatsApp (issue 12 §8) on SQLite and PostgreSQL: an approved template per campaign, variables from
the CSV columns, opt-outs honoured, and jobs paced to the number's rate and 6 seconds per customer."""

from __future__ import annotations

import asyncio
import io
import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from parley.core.whatsapp_pacing import CUSTOMER_GAP
from parley.services.campaign_runner import CampaignRunner
from parley.services.campaigns import CampaignError, Campaigns
from parley.services.directory import DirectoryCache, User
from parley.services.send import enqueue_rows, outbound_row
from parley.services.whatsapp_templates import WhatsAppTemplates
from parley.store import blocklist, queue
from parley.store import campaigns as campaign_store
from parley.store import messages as messages_store
from parley.store.db import Database
from parley.store.tables import campaign_recipients, jobs, lists, messages, usage, whatsapp_templates
from tests.conftest import Clock
from tests.support.app import ALICE, console_client, in_process
from tests.support.provisioning import document, provision
from tests.support.server import wait_until

WA = "+15551230001"
SMS_ONLY = "+15551230002"
WABA = "9876543210"
TRANSPORT = {
    "name": "wa-main", "role": "whatsapp", "kind": "whatsapp", "number": WA, "phone_number_id": "1234567890",
    "waba_id": WABA, "access_token": "EAAG-token", "app_secret": "app-secret", "verify_token": "verify-me",
}  # fmt: skip
PROMO = {"name": "promo", "language": "en_US", "variables": ["{first_name}", "10%"]}


def no_channels(transport: Any) -> Any:
    raise AssertionError("a campaign never syncs templates or creates one")


async def setup(db: Database, clock: Clock, *, rate: int = 80) -> tuple[Campaigns, CampaignRunner, User]:
    numbers = [
        {"number": WA, "sms": True, "whatsapp": True, "linked_service": "Support"},
        {"number": SMS_ONLY, "sms": True},
    ]
    await provision(db, clock(), numbers=numbers, transports=[{**TRANSPORT, "rate": rate}])
    async with db.write() as conn:
        for name, status in (("promo", "approved"), ("paused_one", "paused")):
            body = {"type": "BODY", "text": "Hi {{1}}, {{2}} off today", "variables": 2}
            await conn.execute(
                whatsapp_templates.insert().values(
                    waba_id=WABA, name=name, language="en_US", category="marketing", status=status,
                    components=[body], synced_at=clock(),
                )
            )  # fmt: skip
    cache = DirectoryCache(db, country="US", timezone="UTC")
    templates = WhatsAppTemplates(db, cache, clock, no_channels)
    alice = await cache.user("101")
    assert alice is not None
    return (
        Campaigns(db, cache, clock, wake=lambda: None, templates=templates),
        CampaignRunner(db, cache, clock, on_enqueued=lambda: None, templates=templates),
        alice,
    )


def csv_of(rows: list[tuple[str, str]]) -> io.BytesIO:
    return io.BytesIO(("number,first_name\n" + "".join(f"{n},{f}\n" for n, f in rows)).encode())


def people(n: int) -> list[tuple[str, str]]:
    return [(f"+1555{i:07d}", f"P{i}") for i in range(n)]


async def whatsapp_campaign(campaigns: Campaigns, alice: User, **overrides: Any) -> dict[str, Any]:
    spec = {"name": "Promo", "channel": "whatsapp", "sender": WA, "whatsapp_template": PROMO, **overrides}
    return await campaigns.create(alice, spec)


async def sent_rows(db: Database) -> list[Any]:
    query = sa.select(messages, jobs.c.due_at).outerjoin(jobs, jobs.c.message_id == messages.c.id)
    async with db.read() as conn:
        return list((await conn.execute(query.order_by(messages.c.recipient))).all())


async def test_a_csv_campaign_queues_one_whatsapp_template_per_recipient_filled_from_its_columns(
    db: Database, clock: Clock
) -> None:
    campaigns, runner, alice = await setup(db, clock)
    draft = await whatsapp_campaign(campaigns, alice)
    assert (draft["channel"], draft["message"]) == ("whatsapp", "Hi {first_name}, 10% off today")
    assert draft["whatsapp_template"]["variables"] == ["{first_name}", "10%"]
    await campaigns.upload(alice, draft["id"], csv_of([("+15550000001", "Ann"), ("+15550000002", "Bo")]))
    await campaigns.start(alice, draft["id"])
    assert await runner.tick() == 2
    assert await runner.tick() == 0  # never twice
    rows = await sent_rows(db)
    assert [(r.recipient, r.sender, r.channel, r.body, r.segments, r.status, r.campaign_id) for r in rows] == [
        ("+15550000001", WA, "whatsapp", "Hi Ann, 10% off today", 1, "queued", draft["id"]),
        ("+15550000002", WA, "whatsapp", "Hi Bo, 10% off today", 1, "queued", draft["id"]),
    ]
    assert [r.template for r in rows] == [
        {"name": "promo", "language": "en_US", "variables": ["Ann", "10%"], "header_media": None},
        {"name": "promo", "language": "en_US", "variables": ["Bo", "10%"], "header_media": None},
    ]
    async with db.read() as conn:  # WhatsApp is no part of the user's SMS package
        assert (await conn.execute(sa.select(usage))).all() == []
    assert (await campaigns.get(alice, draft["id"]))["counters"]["queued"] == 2


async def test_an_opted_out_number_gets_nothing_and_an_empty_variable_skips_only_its_recipient(
    db: Database, clock: Clock
) -> None:
    campaigns, runner, alice = await setup(db, clock)
    async with db.write() as conn:
        await blocklist.add(conn, "+15550000002", reason="opt-out: STOP", by=None, now=clock())
    draft = await whatsapp_campaign(campaigns, alice)
    rows = [("+15550000001", "Ann"), ("+15550000002", "Bo"), ("+15550000003", "")]
    await campaigns.upload(alice, draft["id"], csv_of(rows))
    await campaigns.start(alice, draft["id"])
    await runner.tick()
    assert [r.recipient for r in await sent_rows(db)] == ["+15550000001"]
    async with db.read() as conn:
        query = sa.select(campaign_recipients.c.number, campaign_recipients.c.state, campaign_recipients.c.reason)
        states = {r.number: (r.state, r.reason) for r in (await conn.execute(query)).all()}
    assert states["+15550000002"] == ("skipped", "blocklisted or opted out")
    assert states["+15550000003"][0] == "skipped"
    assert "template variable 1 ({first_name}) is empty" in (states["+15550000003"][1] or "")


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        pytest.param({"sender": SMS_ONLY}, "sender", "not a company number on WhatsApp", id="number-not-on-whatsapp"),
        pytest.param({"sender_type": "alphanumeric", "sender": "Shop"}, "sender_type", "company number", id="name"),
        pytest.param({"whatsapp_template": None}, "whatsapp_template", "needs an approved template", id="none"),
        pytest.param(
            {"whatsapp_template": {**PROMO, "name": "paused_one"}}, "whatsapp_template", "paused", id="not-approved"
        ),
        pytest.param(
            {"whatsapp_template": {**PROMO, "name": "nope"}}, "whatsapp_template.name", '"nope"', id="unknown-template"
        ),
        pytest.param(
            {"whatsapp_template": {**PROMO, "variables": ["x"]}}, "whatsapp_template.variables", "takes 2", id="count"
        ),
        pytest.param(
            {"whatsapp_template": {**PROMO, "variables": ["", "x"]}}, "whatsapp_template.variables[0]", "1 to",
            id="empty",
        ),
        pytest.param({"channel": "fax"}, "channel", "not one of sms, whatsapp", id="channel"),
        pytest.param(
            {"whatsapp_template": {**PROMO, "name": "pro\x00mo"}}, "whatsapp_template.name", "NUL", id="nul-name"
        ),
        pytest.param(
            {"whatsapp_template": {**PROMO, "variables": ["a", "b\x1b"]}}, "whatsapp_template.variables[1]",
            "control characters", id="escape-in-a-variable",
        ),
    ],
)  # fmt: skip
async def test_a_whatsapp_campaign_that_cannot_go_is_refused_naming_the_field(
    db: Database, clock: Clock, overrides: dict[str, Any], field: str, words: str
) -> None:
    campaigns, _, alice = await setup(db, clock)
    with pytest.raises(CampaignError) as refused:
        await whatsapp_campaign(campaigns, alice, **overrides)
    assert (refused.value.status, refused.value.field) == (422, field)
    assert words in refused.value.reason


async def test_a_column_the_recipients_do_not_have_is_refused_for_a_list_and_for_a_csv(
    db: Database, clock: Clock
) -> None:
    campaigns, _, alice = await setup(db, clock)
    async with db.write() as conn:
        list_id = await conn.scalar(
            lists.insert().values(name="L", columns=["first_name"], created_by=alice.id, created_at=clock(),
                                  updated_at=clock()).returning(lists.c.id)
        )  # fmt: skip
    typo = {**PROMO, "variables": ["{frist_name}", "x"]}
    with pytest.raises(CampaignError) as refused:
        await whatsapp_campaign(campaigns, alice, whatsapp_template=typo, list_id=list_id)
    assert refused.value.field == "whatsapp_template.variables[0]"
    assert "did you mean {first_name}" in refused.value.reason
    draft = await whatsapp_campaign(campaigns, alice, whatsapp_template=typo)  # the CSV comes later
    with pytest.raises(CampaignError) as refused:
        await campaigns.upload(alice, draft["id"], csv_of(people(3)))
    assert refused.value.field == "whatsapp_template.variables[0]"
    assert (await campaigns.get(alice, draft["id"]))["counters"]["total"] == 0


async def test_jobs_are_paced_to_the_numbers_rate_and_six_seconds_per_customer(db: Database, clock: Clock) -> None:
    campaigns, runner, alice = await setup(db, clock, rate=2)
    now = clock()
    async with db.write() as conn:  # a customer who was just sent a WhatsApp message by an agent
        row = outbound_row(sender=WA, to="+15550000003", text="hello", now=now, user_id=None, source="api")
        await enqueue_rows(conn, [{**row, "channel": "whatsapp"}], now)
    draft = await whatsapp_campaign(campaigns, alice)
    await campaigns.upload(alice, draft["id"], csv_of(people(5)))
    await campaigns.start(alice, draft["id"])
    assert await runner.tick() == 5
    due = {r.recipient: r.due_at for r in await sent_rows(db) if r.campaign_id}
    step = timedelta(seconds=0.5)
    assert due["+15550000003"] == now + CUSTOMER_GAP  # its gap after the agent's message
    others = sorted(t for n, t in due.items() if n != "+15550000003")
    assert others == [now + step * (i + 1) for i in range(4)]  # after the queued message, 2 a second

    second = await whatsapp_campaign(campaigns, alice, name="Again")  # the same customers, from the same number
    await campaigns.upload(alice, second["id"], csv_of(people(2)))
    await campaigns.start(alice, second["id"])
    await runner.tick()
    again = {r.recipient: r.due_at for r in await sent_rows(db) if r.campaign_id == second["id"]}
    assert again["+15550000000"] >= due["+15550000000"] + CUSTOMER_GAP
    assert again["+15550000001"] >= due["+15550000001"] + CUSTOMER_GAP
    assert min(again.values()) > max(due.values())  # behind the number's queued tail


async def test_a_retry_waiting_an_hour_does_not_hold_the_numbers_campaigns(db: Database, clock: Clock) -> None:
    campaigns, runner, alice = await setup(db, clock, rate=1)
    now = clock()
    async with db.write() as conn:  # a message Meta could not take, retried in an hour
        row = outbound_row(sender=WA, to="+15559999999", text="x", now=now, user_id=None, source="api")
        await enqueue_rows(conn, [{**row, "channel": "whatsapp"}], now)
        await conn.execute(jobs.update().values(attempts=3, due_at=now + timedelta(hours=1)))
    draft = await whatsapp_campaign(campaigns, alice)
    await campaigns.upload(alice, draft["id"], csv_of(people(3)))
    await campaigns.start(alice, draft["id"])
    assert await runner.tick() == 3
    due = sorted(r.due_at for r in await sent_rows(db) if r.campaign_id)
    assert due == [now, now + timedelta(seconds=1), now + timedelta(seconds=2)]


async def test_a_slow_number_queues_no_further_ahead_than_a_minute(db: Database, clock: Clock) -> None:
    campaigns, runner, alice = await setup(db, clock, rate=1)
    draft = await whatsapp_campaign(campaigns, alice)
    await campaigns.upload(alice, draft["id"], csv_of(people(100)))
    await campaigns.start(alice, draft["id"])
    assert await runner.tick() == 61
    assert await runner.tick() == 0
    clock.advance(seconds=10)
    assert await runner.tick() == 10
    assert len({r.recipient for r in await sent_rows(db)}) == 71


async def test_a_template_paused_after_the_start_holds_the_campaign_without_skipping_anyone(
    db: Database, clock: Clock
) -> None:
    campaigns, runner, alice = await setup(db, clock)
    draft = await whatsapp_campaign(campaigns, alice)
    await campaigns.upload(alice, draft["id"], csv_of(people(3)))
    await campaigns.start(alice, draft["id"])
    async with db.write() as conn:
        await conn.execute(
            whatsapp_templates.update().where(whatsapp_templates.c.name == "promo").values(status="paused")
        )
    assert await runner.tick() == 0
    held = await campaigns.get(alice, draft["id"])
    assert held["counters"]["pending"] == 3
    assert "paused" in held["error"]
    async with db.write() as conn:
        await conn.execute(
            whatsapp_templates.update().where(whatsapp_templates.c.name == "promo").values(status="approved")
        )
    assert await runner.tick() == 3
    assert (await campaigns.get(alice, draft["id"]))["error"] is None


async def test_the_native_api_creates_a_whatsapp_campaign_and_refuses_one_naming_the_field(
    tmp_path: Path, clock: Clock
) -> None:
    numbers = [{"number": WA, "sms": True, "whatsapp": True, "linked_service": "Support"}]
    async with in_process(tmp_path, document(numbers=numbers, transports=[TRANSPORT])) as app:
        async with app.parley.db.write() as conn:
            await conn.execute(
                whatsapp_templates.insert().values(
                    waba_id=WABA, name="promo", language="en_US", category="marketing", status="approved",
                    components=[{"type": "BODY", "text": "Hi {{1}}, {{2}} off today"}], synced_at=clock(),
                )
            )  # fmt: skip
        async with app.client(ALICE) as client:
            body = {"name": "Promo", "channel": "whatsapp", "sender": WA, "whatsapp_template": PROMO}
            created = await client.post("/api/v2/campaigns", json=body)
            assert created.status_code == 201, created.text
            assert created.json()["channel"] == "whatsapp"
            assert created.json()["message"] == "Hi {first_name}, 10% off today"
            upload = {"file": ("r.csv", b"number,first_name\n+15550000001,Ann\n", "text/csv")}
            loaded = await client.post(f"/api/v2/campaigns/{created.json()['id']}/recipients", files=upload)
            assert loaded.json()["added"] == 1
            unknown = await client.post("/api/v2/campaigns", json={**body, "whatsapp_template": {**PROMO, "name": "x"}})
            assert unknown.status_code == 422
            assert unknown.json()["detail"][0]["loc"] == ["body", "whatsapp_template", "name"]
            sms = await client.post("/api/v2/campaigns", json={"name": "S", "sender": WA, "message": "Hi"})
            assert (sms.status_code, sms.json()["channel"], sms.json()["whatsapp_template"]) == (201, "sms", None)


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_a_runner_pacing_a_number_waits_for_the_one_already_pacing_it(db: Database, clock: Clock) -> None:
    """Runners in several processes read the number's queued tail one at a time (PostgreSQL only: SQLite has one
    writer, so its write transactions never overlap): the second sees what the first queued, never the tail from
    before it."""
    await setup(db, clock)
    due = clock() + timedelta(seconds=30)
    row = outbound_row(sender=WA, to="+15550000009", text="x", now=clock(), user_id=None, source="campaign")

    async def second_runner() -> datetime | None:
        async with db.write() as conn:
            await campaign_store.lock_sender(conn, WA)
            return await campaign_store.whatsapp_tail(conn, WA)

    async def waiting() -> bool:
        async with db.read() as conn:
            query = sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            return bool(await conn.scalar(query))

    async with db.write() as first:
        await campaign_store.lock_sender(first, WA)
        await messages_store.add_all(first, [{**row, "channel": "whatsapp"}])
        await queue.enqueue_many(first, [(row["id"], due)])
        second = asyncio.create_task(second_runner())
        await wait_until(waiting, timeout=10)
    assert await second == due


async def test_two_runners_side_by_side_keep_one_numbers_pace(db: Database, clock: Clock) -> None:
    """Two worker processes' runners top up two campaigns from the same number at once: the number's messages
    are still an interval apart (PostgreSQL: one runner at a time per number; SQLite: one writer)."""
    campaigns, runner, alice = await setup(db, clock, rate=10)
    other = CampaignRunner(db, DirectoryCache(db, country="US", timezone="UTC"), clock, on_enqueued=lambda: None,
                           templates=WhatsAppTemplates(db, DirectoryCache(db, country="US", timezone="UTC"), clock,
                                                       no_channels))  # fmt: skip
    for name, first in (("A", 0), ("B", 100)):
        draft = await whatsapp_campaign(campaigns, alice, name=name)
        rows = [(f"+1555{first + i:07d}", f"P{i}") for i in range(40)]
        await campaigns.upload(alice, draft["id"], csv_of(rows))
        await campaigns.start(alice, draft["id"])
    handled = await asyncio.gather(runner.tick(), other.tick())
    assert sum(handled) == 80
    times = sorted(r.due_at for r in await sent_rows(db))
    assert len(times) == 80
    assert all(b - a >= timedelta(seconds=0.1) for a, b in itertools.pairwise(times))


async def test_the_campaign_form_offers_whatsapp_only_where_a_number_has_it(tmp_path: Path) -> None:
    async with in_process(tmp_path / "sms", document()) as app, console_client(app, ALICE) as (alice, _):
        form = (await alice.get("/campaigns/new")).text
        assert 'name="channel"' not in form and 'name="whatsapp_template"' not in form
        assert 'name="message"' in form
    numbers = [{"number": WA, "sms": True, "whatsapp": True, "linked_service": "Support"}]
    doc = document(numbers=numbers, transports=[TRANSPORT])
    async with in_process(tmp_path / "wa", doc) as app, console_client(app, ALICE) as (alice, _):
        form = (await alice.get("/campaigns/new")).text
        assert 'name="channel" value="whatsapp"' in form and 'name="whatsapp_template"' in form
        assert f"{WA} (WhatsApp)" in form
