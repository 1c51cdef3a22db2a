"""`parley apply` semantics: idempotent, all or nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from parley.core.provisioning import ProvisioningError, parse
from parley.services.directory import DirectoryCache
from parley.services.passwords import verify_password
from parley.store import directory, tables
from parley.store.db import Database
from parley.store.tables import users
from tests.conftest import Clock
from tests.support.provisioning import document, provision


async def test_applying_the_same_file_twice_changes_nothing_the_second_time(db: Database, clock: Clock) -> None:
    first = await provision(db, clock())
    assert first.counts["users.created"] == 3
    second = await provision(db, clock())
    assert second.changed == 0, second.summary()
    assert second.summary() == "nothing changed"


async def test_a_changed_file_updates_only_what_changed(db: Database, clock: Clock) -> None:
    await provision(db, clock())
    changed = document()
    changed["users"][1]["license"] = "premium"
    changed["users"][2]["password"] = "new-password"
    from parley.services.provisioning import apply

    report = await apply(db, parse(changed), now=clock())
    assert report.counts["users.updated"] == 2
    assert report.counts["users.unchanged"] == 1
    async with db.read() as conn:
        carl = await directory.find_user(conn, "103")
        bob = await directory.find_user(conn, "102")
    assert carl is not None and bob is not None
    assert verify_password(carl.password_hash, "new-password")
    assert bob.license == "premium"


async def test_passwords_are_stored_as_argon2_hashes(db: Database, clock: Clock) -> None:
    await provision(db, clock())
    async with db.read() as conn:
        hashes = (await conn.execute(sa.select(users.c.password_hash))).scalars().all()
    assert all(h.startswith("$argon2") for h in hashes)
    assert not any("sms101api" in h for h in hashes)


async def test_a_wrong_file_is_refused_whole_and_nothing_changes(db: Database, clock: Clock) -> None:
    await provision(db, clock())
    bad = document()
    bad["users"][0]["name"] = "Renamed"
    bad["users"][1]["license"] = "gold"
    with pytest.raises(ProvisioningError):
        parse(bad)
    async with db.read() as conn:
        alice = await directory.find_user(conn, "101")
    assert alice is not None and alice.name == "Alice Smith"


async def test_an_mms_price_is_stored_exactly_reaches_the_cached_prices_and_goes_when_left_out(
    db: Database, clock: Clock
) -> None:
    priced = [{"prefix": "+1", "price": "0.0079", "currency": "USD", "mms_price": "0.0200"}]
    report = await provision(db, clock(), prices=priced)
    assert report.counts["prices.created"] == 1
    prices = (await DirectoryCache(db, country="US", timezone="UTC").config()).prices
    assert [(p.prefix, p.price, p.mms_price) for p in prices] == [("+1", Decimal("0.0079"), Decimal("0.0200"))]
    async with db.read() as conn:
        assert await conn.scalar(sa.select(tables.prices.c.mms_price)) == "0.0200"  # exact, as written
    again = await provision(db, clock(), prices=[{k: v for k, v in priced[0].items() if k != "mms_price"}])
    assert again.counts["prices.updated"] == 1
    prices = (await DirectoryCache(db, country="US", timezone="UTC").config()).prices
    assert [p.mms_price for p in prices] == [None]
