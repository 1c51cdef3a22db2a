"""The use cases the console's campaign and list pages add, on SQLite and PostgreSQL: pages, senders, discarding."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from parley.services.campaigns import CampaignError, Campaigns
from parley.services.directory import DirectoryCache, User
from parley.services.lists import Lists
from parley.store.db import Database
from parley.store.tables import campaign_problems, campaign_recipients, campaigns
from tests.conftest import Clock
from tests.support.provisioning import provision


async def users(db: Database, clock: Clock) -> tuple[DirectoryCache, User, User]:
    await provision(db, clock())
    cache = DirectoryCache(db, country="US", timezone="UTC")
    alice, bob = await cache.user("101"), await cache.user("102")
    assert alice is not None and bob is not None
    return cache, alice, bob


async def test_campaign_pages_are_newest_first_say_whether_more_follow_and_show_a_user_his_own(
    db: Database, clock: Clock
) -> None:
    cache, alice, bob = await users(db, clock)
    service = Campaigns(db, cache, clock, wake=lambda: None)
    for n in range(5):
        await service.create(alice, {"name": f"A{n}", "sender": "+15551230001", "message": "Hi"})
        clock.advance(seconds=1)
    await service.create(bob, {"name": "B0", "sender": "+15551230001", "message": "Hi"})

    first, more = await service.page(alice, offset=0, limit=4)
    assert [c["name"] for c in first] == ["B0", "A4", "A3", "A2"]  # an admin sees everyone's
    assert more is True
    last, more = await service.page(alice, offset=4, limit=4)
    assert ([c["name"] for c in last], more) == (["A1", "A0"], False)
    own, more = await service.page(bob, offset=0, limit=4)
    assert ([c["name"] for c in own], more) == (["B0"], False)
    with pytest.raises(CampaignError):
        await service.page(alice, status="paused")


async def test_the_senders_offered_are_the_company_numbers_that_send_sms(db: Database, clock: Clock) -> None:
    cache, _, _ = await users(db, clock)
    service = Campaigns(db, cache, clock, wake=lambda: None)
    assert await service.sender_numbers() == ["+15551230001"]


async def test_a_discarded_draft_leaves_no_campaign_recipient_or_problem_behind(db: Database, clock: Clock) -> None:
    cache, alice, bob = await users(db, clock)
    service = Campaigns(db, cache, clock, wake=lambda: None)
    draft = await service.create(alice, {"name": "D", "sender": "+15551230001", "message": "Hi"})
    report = await service.upload(alice, draft["id"], io.BytesIO(b"number\n+15557650001\nbad\n"))
    assert (report["added"], report["invalid"]) == (1, 1)
    with pytest.raises(CampaignError) as not_his:
        await service.discard(bob, draft["id"])
    assert not_his.value.status == 404

    await service.discard(alice, draft["id"])
    async with db.read() as conn:
        for table in (campaigns, campaign_recipients, campaign_problems):
            assert await conn.scalar(sa.select(sa.func.count()).select_from(table)) == 0


async def test_only_a_draft_can_be_discarded(db: Database, clock: Clock) -> None:
    cache, alice, _ = await users(db, clock)
    service = Campaigns(db, cache, clock, wake=lambda: None)
    draft = await service.create(alice, {"name": "R", "sender": "+15551230001", "message": "Hi"})
    await service.upload(alice, draft["id"], io.BytesIO(b"number\n+15557650001\n"))
    await service.start(alice, draft["id"])
    with pytest.raises(CampaignError) as refused:
        await service.discard(alice, draft["id"])
    assert refused.value.status == 409
    assert (await service.get(alice, draft["id"]))["status"] == "running"


async def test_list_pages_are_by_name_and_say_whether_more_follow(db: Database, clock: Clock) -> None:
    cache, alice, _ = await users(db, clock)
    service = Lists(db, cache, clock)
    for name in ("delta", "alpha", "charlie", "bravo"):
        await service.create(alice, name)
    first, more = await service.page(alice, offset=0, limit=3)
    assert ([x["name"] for x in first], more) == (["alpha", "bravo", "charlie"], True)
    rest, more = await service.page(alice, offset=3, limit=3)
    assert ([x["name"] for x in rest], more) == (["delta"], False)
