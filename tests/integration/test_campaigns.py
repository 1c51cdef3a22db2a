"""Campaign use cases and the runner on SQLite and PostgreSQL (COPY and conflict paths included)."""

from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa

from parley.services.campaign_runner import CampaignRunner
from parley.services.campaigns import CampaignError, Campaigns
from parley.services.directory import DirectoryCache, User
from parley.store.db import Database
from parley.store.tables import campaign_recipients, jobs, messages
from parley.store.tables import campaigns as campaigns_table
from tests.conftest import Clock
from tests.support.provisioning import provision


def csv_of(n: int) -> io.BytesIO:
    return io.BytesIO(("number,first_name\n" + "".join(f"+1555{i:07d},P{i}\n" for i in range(n))).encode())


async def setup(db: Database, clock: Clock) -> tuple[Campaigns, CampaignRunner, User]:
    await provision(db, clock())
    cache = DirectoryCache(db, country="US", timezone="UTC")
    alice = await cache.user("101")
    assert alice is not None
    return (
        Campaigns(db, cache, clock, wake=lambda: None),
        CampaignRunner(db, cache, clock, on_enqueued=lambda: None),
        alice,
    )


async def statuses(db: Database) -> dict[str, int]:
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(messages.c.status, sa.func.count()).group_by(messages.c.status))).all()
    return {r[0]: int(r[1]) for r in rows}


async def test_an_upload_is_stored_once_and_the_runner_queues_each_recipient_once(db: Database, clock: Clock) -> None:
    campaigns, runner, alice = await setup(db, clock)
    draft = await campaigns.create(alice, {"name": "C", "sender": "+15551230001", "message": "Hi {first_name}"})
    first: dict[str, Any] = await campaigns.upload(alice, draft["id"], csv_of(120))
    again: dict[str, Any] = await campaigns.upload(alice, draft["id"], csv_of(120))
    assert (first["added"], again["added"]) == (120, 0)
    await campaigns.start(alice, draft["id"])
    assert await runner.tick() == 120
    assert await runner.tick() == 0
    assert await statuses(db) == {"queued": 120}
    async with db.read() as conn:
        texts = (await conn.execute(sa.select(messages.c.body).where(messages.c.recipient == "+15550000007"))).all()
    assert [t.body for t in texts] == ["Hi P7"]


async def test_stop_withdraws_untouched_messages_and_restart_queues_them_again_without_doubles(
    db: Database, clock: Clock
) -> None:
    campaigns, runner, alice = await setup(db, clock)
    draft = await campaigns.create(alice, {"name": "C", "sender": "+15551230001", "message": "Hi"})
    await campaigns.upload(alice, draft["id"], csv_of(60))
    await campaigns.start(alice, draft["id"])
    await runner.tick()
    async with db.write() as conn:  # a worker has claimed (and may have sent) ten of them
        claimed = (await conn.execute(sa.select(jobs.c.message_id).order_by(jobs.c.message_id).limit(10))).scalars()
        await conn.execute(jobs.update().where(jobs.c.message_id.in_(list(claimed))).values(attempts=1))
    stopped = await campaigns.stop(alice, draft["id"])
    assert stopped["status"] == "stopped"
    assert await statuses(db) == {"queued": 10, "cancelled": 50}
    with pytest.raises(CampaignError):
        await campaigns.stop(alice, draft["id"])
    await campaigns.start(alice, draft["id"])
    await runner.tick()
    async with db.read() as conn:
        live = (
            await conn.execute(
                sa.select(messages.c.recipient, sa.func.count())
                .where(messages.c.status != "cancelled")
                .group_by(messages.c.recipient)
            )
        ).all()
        states = set((await conn.execute(sa.select(campaign_recipients.c.state))).scalars())
    assert len(live) == 60 and {n for _, n in live} == {1}
    assert states == {"queued"}


async def test_outside_sending_hours_a_recipient_waits_and_the_campaign_resumes_by_itself(
    db: Database, clock: Clock
) -> None:
    campaigns, runner, alice = await setup(db, clock)
    # 12:00 UTC is 07:00 in New York and 13:00 in London: only the London number may go now.
    spec = {"name": "H", "sender": "+15551230001", "message": "Hi", "hours": {"from": "09:00", "to": "20:00"}}
    draft = await campaigns.create(alice, spec)
    people = io.BytesIO(b"number\n+12125551234\n+442079460000\n")
    await campaigns.upload(alice, draft["id"], people)
    await campaigns.start(alice, draft["id"])
    await runner.tick()
    async with db.read() as conn:
        queued = (await conn.execute(sa.select(messages.c.recipient))).scalars().all()
    assert queued == ["+442079460000"]
    assert await runner.tick() == 0  # New York still closed: nothing more, the campaign waits
    clock.advance(hours=2, minutes=1)  # 09:01 in New York
    assert await runner.tick() == 1
    async with db.read() as conn:
        assert sorted((await conn.execute(sa.select(messages.c.recipient))).scalars()) == [
            "+12125551234",
            "+442079460000",
        ]


async def test_campaigns_side_by_side_each_get_their_turn(db: Database, clock: Clock) -> None:
    campaigns, runner, alice = await setup(db, clock)
    ids = []
    for name in ("A", "B"):
        draft = await campaigns.create(alice, {"name": name, "sender": "+15551230001", "message": name})
        await campaigns.upload(alice, draft["id"], csv_of(30))
        await campaigns.start(alice, draft["id"])
        ids.append(draft["id"])
    await runner.tick()
    async with db.read() as conn:
        per_campaign = dict(
            (
                await conn.execute(sa.select(messages.c.campaign_id, sa.func.count()).group_by(messages.c.campaign_id))
            ).all()
        )
    assert per_campaign == {ids[0]: 30, ids[1]: 30}


# --- one bad row never stops a campaign (issue 9 §1) -------------------------------------------------------------


async def _add_raw_recipients(db: Database, campaign_id: str, rows: list[tuple[str, Any]]) -> None:
    """Recipients as an older version (or a hand edit) may have left them, bypassing today's checks."""
    async with db.write() as conn:
        await conn.execute(
            campaign_recipients.insert(),
            [{"campaign_id": campaign_id, "number": n, "fields": f, "state": "pending"} for n, f in rows],
        )
        await conn.execute(
            campaigns_table.update()
            .where(campaigns_table.c.id == campaign_id)
            .values(total=campaigns_table.c.total + 2)
        )


async def _recipient(db: Database, number: str) -> Any:
    async with db.read() as conn:
        return (await conn.execute(sa.select(campaign_recipients).where(campaign_recipients.c.number == number))).one()


async def test_a_row_that_cannot_be_queued_is_skipped_with_its_reason_and_the_others_send(
    db: Database, clock: Clock
) -> None:
    campaigns, runner, alice = await setup(db, clock)
    draft = await campaigns.create(alice, {"name": "C", "sender": "+15551230001", "message": "Hi {first_name}"})
    await campaigns.upload(alice, draft["id"], csv_of(40))
    await _add_raw_recipients(
        db, draft["id"], [("+15559990001", {"first_name": "Ev\u0000e"}), ("+15559990002", ["not", "a", "mapping"])]
    )
    await campaigns.start(alice, draft["id"])
    assert await runner.tick() == 42
    assert await statuses(db) == {"queued": 40}
    nul = await _recipient(db, "+15559990001")
    assert (nul.state, nul.reason[:60]) == (
        "skipped",
        "the message for this recipient holds a NUL character (U+0000",
    )
    broken = await _recipient(db, "+15559990002")
    assert broken.state == "skipped" and broken.reason.startswith("AttributeError: ")
    counters = (await campaigns.get(alice, draft["id"]))["counters"]
    assert (counters["queued"], counters["skipped"]) == (40, 2)


async def test_a_campaign_that_cannot_advance_is_marked_and_the_others_still_send(db: Database, clock: Clock) -> None:
    campaigns, runner, alice = await setup(db, clock)
    broken = await campaigns.create(alice, {"name": "Broken", "sender": "+15551230001", "message": "Hi"})
    fine = await campaigns.create(alice, {"name": "Fine", "sender": "+15551230001", "message": "Hi"})
    for draft in (broken, fine):
        await campaigns.upload(alice, draft["id"], csv_of(10))
        await campaigns.start(alice, draft["id"])
    async with db.write() as conn:  # sending hours that no longer read
        await conn.execute(
            campaigns_table.update().where(campaigns_table.c.id == broken["id"]).values(hours={"from": "soon"})
        )
    assert await runner.tick() == 10
    assert (await campaigns.get(alice, fine["id"]))["counters"]["queued"] == 10
    marked = await campaigns.get(alice, broken["id"])
    assert marked["error"] is not None and marked["error"].startswith("cannot send: ")
    assert marked["counters"]["pending"] == 10


async def test_a_csv_with_a_nul_cell_after_64_kb_reports_that_row_and_the_campaign_sends_the_others(
    db: Database, clock: Clock
) -> None:
    """The finding: the NUL reached the recipient's fields and the campaign's tick failed for ever (0 of 200 sent)."""
    campaigns, runner, alice = await setup(db, clock)
    draft = await campaigns.create(alice, {"name": "C", "sender": "+15551230001", "message": "Hi {first_name}"})
    rows = "".join(f"+1555{i:07d},Person number {i:07d} with a long name\n" for i in range(1600))  # ~75 KB
    data = f"number,first_name\n{rows}+15559999999,Ev\x00e\n".encode()
    assert len(data) > 64 * 1024
    report = await campaigns.upload(alice, draft["id"], io.BytesIO(data))
    assert (report["added"], report["invalid"]) == (1600, 1)
    [problem] = report["problems"]
    assert problem["line"] == 1602 and problem["reason"].startswith('the "first_name" column holds a NUL character')
    await campaigns.start(alice, draft["id"])
    while await runner.tick():
        async with db.write() as conn:  # the dispatcher's part: the window drains
            await conn.execute(messages.update().values(status="sent"))
    assert await statuses(db) == {"sent": 1600}


async def test_campaign_text_fields_with_control_characters_are_refused_naming_the_field(
    db: Database, clock: Clock
) -> None:
    campaigns, _, alice = await setup(db, clock)
    for field, value in (("name", "C\x00"), ("message", "Hi\ud800"), ("rating_extension", "10\x001")):
        spec = {"name": "C", "sender": "+15551230001", "message": "Hi", field: value}
        with pytest.raises(CampaignError) as caught:
            await campaigns.create(alice, spec)
        assert (caught.value.status, caught.value.field) == (422, field)
        assert "holds a" in caught.value.reason


async def test_a_header_of_150_000_columns_is_refused_with_a_clear_error(db: Database, clock: Clock) -> None:
    campaigns, _, alice = await setup(db, clock)
    draft = await campaigns.create(alice, {"name": "C", "sender": "+15551230001", "message": "Hi"})
    header = b"number" + b",c" * 150_000 + b"\n+15551234567" + b",x" * 10 + b"\n"
    with pytest.raises(CampaignError) as caught:
        await campaigns.upload(alice, draft["id"], io.BytesIO(header))
    assert caught.value.reason == "the header row is longer than 65,536 characters; is the first line the header?"
