"""Statistics on SQLite and PostgreSQL: per day in the PBX zone (across a DST change), by user, number, status;
cost and quota; the report's filters, keyset pages and CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.services.send import charge_rows, outbound_row
from parley.services.statistics import ReportFilter, Statistics, offset_spans, resolve_period
from parley.store import messages as message_store
from parley.store.db import Database
from parley.store.tables import conversations, participants, usage, users
from parley.store.usage import month_total
from tests.conftest import Clock
from tests.support.provisioning import provision

NEW_YORK = ZoneInfo("America/New_York")  # the test PBX's zone; DST ended there on 2026-11-01 at 06:00 UTC
SUPPORT, CUSTOMER = "+15551230001", "+15557654321"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def message(mid: str, direction: str, at: datetime, **extra: Any) -> dict[str, Any]:
    out = direction == "out"
    row = {
        "id": mid, "direction": direction, "user_id": None, "sender": SUPPORT if out else CUSTOMER,
        "recipient": CUSTOMER if out else SUPPORT, "body": f"text {mid}", "status": "delivered" if out else "received",
        "segments": 1, "encoding": "gsm7", "gsm": None, "transport": "carrier", "error": None, "charge": None,
        "currency": None, "source": "api", "conversation_id": None, "bot": None, "carrier_id": None,
        "campaign_id": None, "send_at": None, "created_at": at, "updated_at": at,
    }  # fmt: skip
    row.update(extra)
    return row


@pytest.fixture
async def seeded(db: Database, clock: Clock) -> dict[str, int]:
    await provision(db, clock())
    async with db.write() as conn:
        ids = {r.extension: r.id for r in (await conn.execute(sa.select(users.c.id, users.c.extension))).all()}
        alice, bob = ids["101"], ids["102"]
        for cid, members in (("c1", [alice, bob]), ("c2", [bob])):
            await conn.execute(
                conversations.insert().values(
                    id=cid,
                    thread_key=f"{SUPPORT}|{CUSTOMER}|{cid}",
                    company_number=SUPPORT,
                    external_number=CUSTOMER,
                    title=CUSTOMER,
                    unrouted=False,
                    created_at=clock(),
                    updated_at=clock(),
                )
            )
            for uid in members:
                await conn.execute(
                    participants.insert().values(
                        conversation_id=cid, member=f"u:{uid}", user_id=uid, active=True, joined_at=clock()
                    )
                )
        await message_store.add_all(
            conn,
            [
                message("00a", "out", utc(2026, 10, 15, 12), user_id=alice),  # last month
                message("00b", "in", utc(2026, 11, 1, 3, 30), conversation_id="c1"),  # 31 Oct 23:30 EDT
                message("00c", "in", utc(2026, 11, 1, 5, 30), conversation_id="c1"),  # 1 Nov 01:30 EDT
                message("00d", "out", utc(2026, 11, 2, 15), user_id=alice, segments=2, status="sent"),
                message("00e", "in", utc(2026, 11, 2, 18), conversation_id="c2"),
                # 2 Nov 23:30 EST: still the 2nd in New York although the 3rd in UTC
                message(
                    "00f",
                    "out",
                    utc(2026, 11, 3, 4, 30),
                    user_id=alice,
                    status="failed",
                    error="no route",
                    charge="0.0079",
                    currency="USD",
                ),
                message("00g", "out", utc(2026, 11, 5, 12), user_id=bob, sender="ACME", segments=3, body="=cmd()"),
                message("00h", "out", utc(2026, 11, 10, 12), user_id=alice, charge="0.0079", currency="USD"),
            ],
        )
        await conn.execute(usage.insert(), [{"user_id": alice, "month": "2026-11", "segments": 4},
                                            {"user_id": bob, "month": "2026-11", "segments": 3}])  # fmt: skip
    return ids


@pytest.fixture
def statistics(db: Database, clock: Clock) -> Statistics:
    return Statistics(db, DirectoryCache(db, country="US", timezone="UTC"), clock)


async def who(db: Database, extension: str) -> User:
    user = await DirectoryCache(db, country="US", timezone="UTC").user(extension)
    assert user is not None
    return user


def test_a_month_across_the_end_of_dst_is_split_where_the_offset_changes() -> None:
    period = resolve_period("this-month", "", "", zone=NEW_YORK, now=utc(2026, 11, 24, 12))
    assert (period.since, period.until) == (utc(2026, 11, 1, 4), utc(2026, 12, 1, 5))
    spans = offset_spans(period.since, period.until, NEW_YORK)
    assert [(s.since, s.until, s.offset_seconds) for s in spans] == [
        (utc(2026, 11, 1, 4), utc(2026, 11, 1, 6), -4 * 3600),
        (utc(2026, 11, 1, 6), utc(2026, 12, 1, 5), -5 * 3600),
    ]


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [("2026-11-05", "2026-11-01", "last"), ("yesterday", "2026-11-01", "first"), ("2025-01-01", "2026-11-01", "last")],
    ids=["end-before-start", "not-a-date", "longer-than-a-year"],
)
def test_a_bad_custom_period_names_the_field(first: str, last: str, field: str) -> None:
    with pytest.raises(ServiceError) as refused:
        resolve_period("custom", first, last, zone=NEW_YORK, now=utc(2026, 11, 24))
    assert refused.value.field == field


async def test_admin_sees_everyones_figures_per_local_day_user_number_and_status(
    db: Database, seeded: dict[str, int], statistics: Statistics
) -> None:
    alice = await who(db, "101")
    figures = await statistics.overview(alice, await statistics.period("this-month"))
    days = {d["day"].isoformat(): (d["out"], d["in"]) for d in figures["days"] if d["out"] or d["in"]}
    assert len(figures["days"]) == 30
    assert days == {"2026-11-01": (0, 1), "2026-11-02": (2, 1), "2026-11-05": (1, 0), "2026-11-10": (1, 0)}
    by_user = {u["extension"]: u for u in figures["by_user"]}
    assert set(by_user) == {"101", "102"}
    a, b = by_user["101"], by_user["102"]
    assert (a["sent"], a["received"], a["segments"], a["cost_text"], a["used"], a["package"]) == (
        3,
        1,
        4,
        "0.0158 USD",
        4,
        2,
    )
    assert a["quota_percent"] == 100
    assert (b["sent"], b["received"], b["segments"], b["cost_text"], b["used"], b["package"]) == (1, 2, 3, "", 3, 200)
    assert {n["number"]: (n["out"], n["in"], n["segments_out"]) for n in figures["by_number"]} == {
        SUPPORT: (3, 2, 4),
        "ACME": (1, 0, 3),
    }
    assert {(s["status"], s["direction"]): s["messages"] for s in figures["by_status"]} == {
        ("delivered", "out"): 2, ("sent", "out"): 1, ("failed", "out"): 1, ("received", "in"): 2
    }  # fmt: skip
    assert figures["totals"] == {
        "in": 2, "out": 4, "segments_out": 7, "mms_in": 0, "mms_out": 0, "cost_text": "0.0158 USD", "mms_cost_text": "",
        "whatsapp_in": 0, "whatsapp_out": 0,
    }  # fmt: skip


async def test_last_month_and_an_admins_user_filter(
    db: Database, seeded: dict[str, int], statistics: Statistics
) -> None:
    alice = await who(db, "101")
    figures = await statistics.overview(alice, await statistics.period("last-month"))
    assert figures["totals"]["out"] == 1 and figures["totals"]["in"] == 1  # 23:30 on 31 October in New York
    only_bob = await statistics.overview(alice, await statistics.period("this-month"), user="102")
    assert [u["extension"] for u in only_bob["by_user"]] == ["102"]
    with pytest.raises(ServiceError) as refused:
        await statistics.overview(alice, await statistics.period("this-month"), user="999")
    assert refused.value.field == "user"


async def test_an_agent_sees_only_what_they_sent_and_what_came_into_their_conversations(
    db: Database, seeded: dict[str, int], statistics: Statistics
) -> None:
    bob = await who(db, "102")
    # An agent's user filter is ignored: always their own figures.
    figures = await statistics.overview(bob, await statistics.period("this-month"), user="101")
    assert [u["extension"] for u in figures["by_user"]] == ["102"]
    assert figures["totals"] == {
        "in": 2, "out": 1, "segments_out": 3, "mms_in": 0, "mms_out": 0, "cost_text": "", "mms_cost_text": "",
        "whatsapp_in": 0, "whatsapp_out": 0,
    }  # fmt: skip
    assert {(s["status"], s["direction"]): s["messages"] for s in figures["by_status"]} == {
        ("delivered", "out"): 1,
        ("received", "in"): 2,
    }
    assert await statistics.user_choices(bob) == []
    carl = await who(db, "103")
    nothing = await statistics.overview(carl, await statistics.period("this-month"))
    assert nothing["totals"]["out"] == 0 and [u["extension"] for u in nothing["by_user"]] == ["103"]


async def test_the_report_filters_pages_by_keyset_and_exports_every_row_as_csv(
    db: Database, seeded: dict[str, int], statistics: Statistics
) -> None:
    alice = await who(db, "101")
    delivered = await statistics.query(alice, ReportFilter(status="delivered"))
    page = await statistics.messages(delivered, before=None)
    assert [m.id for m in page["messages"]] == ["00h", "00g"] and page["next"] is None
    first = await statistics.messages(await statistics.query(alice, ReportFilter()), before=None, limit=4)
    assert [m.id for m in first["messages"]] == ["00h", "00g", "00f", "00e"] and first["next"] == "00e"
    rest = await statistics.messages(await statistics.query(alice, ReportFilter()), before="00e", limit=4)
    assert [m.id for m in rest["messages"]] == ["00d", "00c"] and rest["next"] is None
    search = await statistics.query(alice, ReportFilter(text="XT 00D", direction="out"))
    assert [m.id for m in (await statistics.messages(search, before=None))["messages"]] == ["00d"]
    with pytest.raises(ServiceError) as refused:
        await statistics.query(alice, ReportFilter(status="lost"))
    assert refused.value.field == "status"

    text = "".join([chunk async for chunk in statistics.export_csv(await statistics.query(alice, ReportFilter()))])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["id"] for r in rows] == ["00h", "00g", "00f", "00e", "00d", "00c"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["00f"]["time"] == "2026-11-02T23:30:00-05:00"
    assert by_id["00c"]["time"] == "2026-11-01T01:30:00-04:00"
    assert (by_id["00f"]["charge"], by_id["00f"]["currency"], by_id["00f"]["error"]) == ("0.0079", "USD", "no route")
    assert (by_id["00f"]["user"], by_id["00f"]["from"], by_id["00f"]["to"]) == ("101", SUPPORT, CUSTOMER)
    assert by_id["00g"]["text"] == "'=cmd()"  # a spreadsheet must not run it as a formula
    assert {r["channel"] for r in rows} == {"sms"}  # rows written before channels existed are SMS by default


async def test_the_export_reads_in_batches_and_ends_after_the_last_row(
    db: Database, seeded: dict[str, int], statistics: Statistics
) -> None:
    bob = await who(db, "102")
    query = await statistics.query(bob, ReportFilter())
    chunks = [chunk async for chunk in statistics.export_csv(query, batch=2)]
    assert len(chunks) == 1 + 2  # the header, then 2 + 1 rows (bob: 00g, 00e, 00c)
    assert [r["id"] for r in csv.DictReader(io.StringIO("".join(chunks)))] == ["00g", "00e", "00c"]


async def test_dates_typed_over_a_named_period_make_it_custom(
    db: Database, seeded: dict[str, int], statistics: Statistics
) -> None:
    same = await statistics.period("this-month", "2026-11-01", "2026-11-30")
    assert same.kind == "this-month"
    changed = await statistics.period("this-month", "2026-11-02", "2026-11-05")
    assert (changed.kind, str(changed.first), str(changed.last)) == ("custom", "2026-11-02", "2026-11-05")
    alice = await who(db, "101")
    figures = await statistics.overview(alice, changed)
    assert [str(d["day"]) for d in figures["days"]] == ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]
    assert figures["totals"]["out"] == 3


async def test_mms_are_counted_apart_from_sms_and_charged_at_the_mms_price_outside_the_package(
    db: Database, seeded: dict[str, int], statistics: Statistics, clock: Clock
) -> None:
    prices = [
        {"prefix": "+1", "price": "0.0079", "currency": "USD", "mms_price": "0.02"},
        {"prefix": "+44", "price": "0.04", "currency": "GBP"},  # no MMS price: MMS there are not charged
    ]
    await provision(db, clock(), prices=prices)
    alice, bob = await who(db, "101"), await who(db, "102")
    config = await DirectoryCache(db, country="US", timezone="UTC").config()
    now = clock()

    def sent(user: User, to: str, mms: bool) -> dict[str, Any]:
        row = outbound_row(sender=SUPPORT, to=to, text="" if mms else "hi", now=now, user_id=user.id, source="api")
        return {**row, "channel": "mms", "segments": 1} if mms else row

    mixed = [sent(alice, CUSTOMER, False), sent(alice, CUSTOMER, True), sent(alice, "+447700900123", True)]
    async with db.write() as conn:
        await charge_rows(conn, alice, mixed, month="2026-11", prices=config.prices)
        bobs = [sent(bob, CUSTOMER, True)]
        await charge_rows(conn, bob, bobs, month="2026-11", prices=config.prices)
        inbound = [message(f"0m{n}", "in", now, conversation_id="c1", channel="mms", body="") for n in range(2)]
        await message_store.add_all(conn, [*mixed, *bobs, *inbound])
        # The package counts SMS segments only: Alice's 4 (seeded) and one more SMS; Bob's MMS adds nothing.
        assert (await month_total(conn, alice.id, "2026-11"), await month_total(conn, bob.id, "2026-11")) == (5, 3)
    assert [(r["charge"], r["currency"]) for r in mixed] == [("0.0079", "USD"), ("0.02", "USD"), (None, None)]
    assert (bobs[0]["charge"], bobs[0]["currency"]) == ("0.02", "USD")  # within his SMS package, yet charged

    figures = await statistics.overview(alice, await statistics.period("this-month"))
    assert figures["totals"] == {
        "in": 2, "out": 5, "segments_out": 8, "mms_in": 2, "mms_out": 3,
        "cost_text": "0.0637 USD", "mms_cost_text": "0.04 USD", "whatsapp_in": 0, "whatsapp_out": 0,
    }  # fmt: skip
    by_user = {u["extension"]: u for u in figures["by_user"]}
    keys = ("sent", "received", "segments", "mms_sent", "mms_received", "cost_text", "used")
    assert {ext: tuple(by_user[ext][k] for k in keys) for ext in ("101", "102")} == {
        "101": (4, 1, 5, 2, 2, "0.0437 USD", 5),
        "102": (1, 2, 3, 1, 2, "0.02 USD", 3),
    }
    numbers = {n["number"]: n for n in figures["by_number"]}
    assert {k: tuple(n[c] for c in ("out", "in", "segments_out", "mms_out", "mms_in")) for k, n in numbers.items()} == {
        SUPPORT: (4, 2, 5, 3, 2),
        "ACME": (1, 0, 3, 0, 0),
    }  # fmt: skip
    today = {d["day"].isoformat(): (d["out"], d["in"]) for d in figures["days"]}["2026-11-24"]
    assert today == (4, 2)  # the chart counts every message, SMS and MMS

    theirs = await statistics.overview(bob, await statistics.period("this-month"))
    assert (theirs["totals"]["mms_out"], theirs["totals"]["mms_in"], theirs["totals"]["out"]) == (1, 2, 1)

    text = "".join([chunk async for chunk in statistics.export_csv(await statistics.query(alice, ReportFilter()))])
    channels = {r["id"]: (r["channel"], r["charge"]) for r in csv.DictReader(io.StringIO(text))}
    assert channels[mixed[0]["id"]] == ("sms", "0.0079")
    assert channels[mixed[1]["id"]] == ("mms", "0.02")
    assert channels["0m0"] == ("mms", "")
    page = await statistics.messages(await statistics.query(alice, ReportFilter()), before=None)
    assert {m.id: m.channel for m in page["messages"]}[bobs[0]["id"]] == "mms"


async def test_whatsapp_messages_are_counted_apart_from_sms_and_mms(
    db: Database, seeded: dict[str, int], statistics: Statistics, clock: Clock
) -> None:
    alice, bob = await who(db, "101"), await who(db, "102")
    now = clock()
    async with db.write() as conn:
        await message_store.add_all(
            conn,
            [
                message("0w1", "out", now, user_id=alice.id, channel="whatsapp", status="read"),
                message("0w2", "out", now, user_id=alice.id, channel="whatsapp"),
                message("0w3", "in", now, conversation_id="c1", channel="whatsapp"),
                message("0w4", "in", now, conversation_id="c2", channel="whatsapp", sender="US.1349120865530"),
            ],
        )
    figures = await statistics.overview(alice, await statistics.period("this-month"))
    totals = figures["totals"]
    assert (totals["whatsapp_out"], totals["whatsapp_in"]) == (2, 2)
    assert (totals["out"], totals["in"], totals["mms_out"], totals["mms_in"]) == (4, 2, 0, 0)  # as before
    by_user = {u["extension"]: u for u in figures["by_user"]}
    keys = ("sent", "received", "whatsapp_sent", "whatsapp_received")
    assert {ext: tuple(by_user[ext][k] for k in keys) for ext in ("101", "102")} == {
        "101": (3, 1, 2, 1),
        "102": (1, 2, 0, 2),
    }
    numbers = {n["number"]: (n["out"], n["in"], n["whatsapp_out"], n["whatsapp_in"]) for n in figures["by_number"]}
    assert numbers[SUPPORT] == (3, 2, 2, 2)
    today = {d["day"].isoformat(): (d["out"], d["in"]) for d in figures["days"]}["2026-11-24"]
    assert today == (2, 2)  # the chart counts every message, WhatsApp too
    theirs = await statistics.overview(bob, await statistics.period("this-month"))
    assert (theirs["totals"]["whatsapp_out"], theirs["totals"]["whatsapp_in"]) == (0, 2)
