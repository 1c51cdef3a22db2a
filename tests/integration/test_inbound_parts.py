"""Concatenated inbound parts that never complete, impossible parts, references that come round, and
carrier ids that come round: nothing is kept for ever and nothing the customer wrote is lost."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from parley.channels.base import Inbound
from parley.core.concat import GAP
from parley.services.receive import DEDUP_WINDOW, Inbox
from parley.store.db import Database
from parley.store.tables import inbound_parts, messages
from tests.conftest import Clock

CUSTOMER, COMPANY = "+15557654321", "+15551230001"
DAY = timedelta(hours=24)


def piece(text: str, ref: int, total: int, seq: int) -> Inbound:
    extra = {"concat_ref": str(ref), "concat_total": str(total), "concat_seq": str(seq)}
    return Inbound(CUSTOMER, COMPANY, text, extra=extra)


async def stored(db: Database) -> list[tuple[str, str | None]]:
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(messages.c.body, messages.c.error).order_by(messages.c.id))).all()
    return [(r.body, r.error) for r in rows]


async def held(db: Database) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(inbound_parts)) or 0)


async def test_parts_are_joined_in_order_and_let_go(db: Database, clock: Clock) -> None:
    inbox = Inbox(db, clock)
    assert await inbox.receive("carrier", piece("world", 7, 2, 2)) is None
    assert await inbox.receive("carrier", piece("hello ", 7, 2, 1)) is not None
    assert await stored(db) == [("hello world", None)]
    assert await held(db) == 0
    await inbox.close()


async def test_a_part_whose_others_never_come_is_stored_marked_incomplete_after_the_expiry(
    db: Database, clock: Clock
) -> None:
    inbox = Inbox(db, clock, part_expiry=DAY)
    await inbox.receive("carrier", piece("Where is my ", 9, 3, 1))
    clock.advance(hours=23)
    assert await inbox.expire_parts() == 0
    clock.advance(hours=2)
    assert await inbox.expire_parts() == 1
    assert await stored(db) == [(f"Where is my {GAP}", "incomplete: part 1 of 3 arrived")]
    assert await held(db) == 0
    await inbox.close()


async def test_an_impossible_part_is_stored_at_once_as_a_message_of_its_own(db: Database, clock: Clock) -> None:
    inbox = Inbox(db, clock)
    assert await inbox.receive("carrier", piece("five of two", 3, 2, 5)) is not None
    assert await inbox.receive("carrier", piece("of nothing", 4, 0, 1)) is not None
    assert [(body, (error or "").split(":")[0]) for body, error in await stored(db)] == [
        ("five of two", "impossible concatenation header"),
        ("of nothing", "impossible concatenation header"),
    ]
    assert await held(db) == 0
    await inbox.close()


async def test_a_part_that_arrives_twice_is_joined_once(db: Database, clock: Clock) -> None:
    inbox = Inbox(db, clock)
    await inbox.receive("carrier", piece("ab", 5, 2, 1))
    assert await inbox.receive("carrier", piece("ab", 5, 2, 1)) is None
    await inbox.receive("carrier", piece("cd", 5, 2, 2))
    assert await stored(db) == [("abcd", None)]
    await inbox.close()


async def test_a_new_message_that_reuses_a_stale_reference_never_gets_the_stale_part(
    db: Database, clock: Clock
) -> None:
    inbox = Inbox(db, clock, part_expiry=DAY)
    await inbox.receive("carrier", piece("OLD-1 ", 42, 2, 1))  # its part 2 is lost
    clock.advance(hours=25)  # before the periodic expiry has run
    await inbox.receive("carrier", piece("NEW-1 ", 42, 2, 1))
    await inbox.receive("carrier", piece("NEW-2", 42, 2, 2))
    assert sorted(await stored(db)) == [
        ("NEW-1 NEW-2", None),
        (f"OLD-1 {GAP}", "incomplete: part 1 of 2 arrived"),
    ]
    assert await held(db) == 0
    await inbox.close()


async def test_a_reference_that_comes_round_with_another_part_count_starts_a_new_message(
    db: Database, clock: Clock
) -> None:
    inbox = Inbox(db, clock)
    await inbox.receive("carrier", piece("A1 ", 8, 3, 1))
    await inbox.receive("carrier", piece("B1 ", 8, 2, 1))
    await inbox.receive("carrier", piece("B2", 8, 2, 2))
    assert sorted(await stored(db)) == [(f"A1 {GAP}", "incomplete: part 1 of 3 arrived"), ("B1 B2", None)]
    await inbox.close()


async def test_the_same_carrier_id_is_one_message_within_the_window_and_a_new_one_after_it(
    db: Database, clock: Clock
) -> None:
    inbox = Inbox(db, clock)
    first = await inbox.receive("carrier", Inbound(CUSTOMER, COMPANY, "hello", carrier_id="1000"))
    assert await inbox.receive("carrier", Inbound(CUSTOMER, COMPANY, "hello", carrier_id="1000")) == first
    clock.advance(seconds=DEDUP_WINDOW.total_seconds() + 60)  # the SMSC restarted since; its ids start again
    second = await inbox.receive("carrier", Inbound(CUSTOMER, COMPANY, "new question", carrier_id="1000"))
    assert second not in (None, first)
    assert [body for body, _ in await stored(db)] == ["hello", "new question"]
    await inbox.close()
