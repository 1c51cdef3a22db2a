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
