"""Statistics and reports (issue 5 item 5): messages per day, by user, by number, by status; cost and quota.
SMS and MMS are counted apart and both charged (issue 11 §6); WhatsApp messages apart from both (issue 12).

Agents see their own figures (what they sent, what came into their conversations); admins see everyone's and may
narrow to one user. Days are calendar days in the PBX zone; a period is a run of whole local days.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.store import directory
from parley.store import statistics as store
from parley.store.db import Database
from parley.store.messages import STATUSES
from parley.store.statistics import MessageQuery, Span

PERIODS = ("this-month", "last-month", "custom")
LONGEST_PERIOD_DAYS = 366
USERS_PAGE = 50
EXPORT_BATCH = 2_000
# ``channel`` (sms | mms) came last, so that columns existing spreadsheets read by position keep their place.
CSV_COLUMNS = (
    "id", "time", "direction", "from", "to", "user", "user_name", "status", "segments", "charge", "currency",
    "text", "error", "channel",
)  # fmt: skip


@dataclass(frozen=True)
class Period:
    """Local days ``first``..``last`` (inclusive) and the UTC range ``[since, until)`` they cover."""

    kind: str
    first: date
    last: date
    since: datetime
    until: datetime

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


@dataclass(frozen=True)
class ReportFilter:
    """What the SMS report is narrowed to (as typed in the filter form; validated by `Statistics`)."""

    period: str = "this-month"
    first: str = ""
    last: str = ""
    user: str = ""  # an extension (admins only)
    direction: str = ""
    status: str = ""
    sender: str = ""
    recipient: str = ""
    text: str = ""


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def _parse_day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ServiceError(422, "give a date as YYYY-MM-DD", field) from None


def resolve_period(kind: str, first: str, last: str, *, zone: ZoneInfo, now: datetime) -> Period:
    """This month (the default), last month, or custom local days; raises ServiceError(422) for a bad range."""
    today = now.astimezone(zone).date()
    month_start = today.replace(day=1)
    if kind == "last-month":
        end = month_start - timedelta(days=1)
        start = end.replace(day=1)
    elif kind == "custom":
        start, end = _parse_day(first, "first"), _parse_day(last, "last")
        if end < start:
            raise ServiceError(422, "the end is before the start", "last")
        if (end - start).days >= LONGEST_PERIOD_DAYS:
            raise ServiceError(422, f"choose at most {LONGEST_PERIOD_DAYS} days", "last")
    elif kind in ("this-month", ""):
        kind, start = "this-month", month_start
        end = (month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    else:
        raise ServiceError(422, "choose this month, last month or custom dates", "period")
    return Period(kind, start, end, _local_midnight(start, zone), _local_midnight(end + timedelta(days=1), zone))


def _offset(at: datetime, zone: ZoneInfo) -> int:
    delta = at.astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def offset_spans(since: datetime, until: datetime, zone: ZoneInfo) -> list[Span]:
    """Split ``[since, until)`` where the zone's UTC offset changes (DST), so each span groups by one offset."""
    spans: list[Span] = []
    start, offset = since, _offset(since, zone)
    probe = since
    while probe < until:
        step = min(probe + timedelta(hours=1), until)
        if step < until and _offset(step, zone) != offset:
            low, high = probe, step  # the change is in (low, high]: find the first second with the new offset
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (low, middle) if _offset(middle, zone) != offset else (middle, high)
            spans.append(Span(start, high, offset))
            start, offset = high, _offset(high, zone)
        probe = step
    spans.append(Span(start, until, offset))
    return spans


def _channel_counts() -> dict[str, int]:
    """SMS, MMS and WhatsApp counted apart (issue 11 §6, issue 12): ``in``/``out``/``segments_out`` are SMS,
    ``mms_*`` MMS, ``whatsapp_*`` WhatsApp."""
    return {"in": 0, "out": 0, "segments_out": 0, "mms_in": 0, "mms_out": 0, "whatsapp_in": 0, "whatsapp_out": 0}


def _count(entry: dict[str, Any], g: Any) -> None:
    """Add a `count_grouped` group to the SMS, MMS or WhatsApp counts."""
    if g.channel == "sms":
        entry[g.direction] += int(g.messages)
        if g.direction == "out":
            entry["segments_out"] += int(g.segments)
    elif g.channel in ("mms", "whatsapp"):
        entry[f"{g.channel}_{g.direction}"] += int(g.messages)


def _add_cost(cost: dict[str, Decimal], g: Any) -> None:
    """Add a group's charges; ``charge`` is each message's own charge, the same for the group's messages."""
    if g.charge is not None and g.currency:
        cost[g.currency] = cost.get(g.currency, Decimal(0)) + Decimal(g.charge) * int(g.messages)


def _money(amounts: dict[str, Decimal]) -> str:
    return ", ".join(f"{amount.normalize():f} {currency}" for currency, amount in sorted(amounts.items()))


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula (phone numbers such as +1555… stay as they are).

    Every CSV export a person may open in a spreadsheet writes its text cells through this (OWASP: CSV injection).
    """
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not text[1:].isdigit():
        return "'" + text
    return text


class Statistics:
    def __init__(self, db: Database, cache: DirectoryCache, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._cache = cache
        self._clock = clock

    async def zone(self) -> ZoneInfo:
        name = (await self._cache.config()).timezone
        try:
            return ZoneInfo(name)
        except (KeyError, ValueError):
            return ZoneInfo("UTC")

    async def period(self, kind: str, first: str = "", last: str = "") -> Period:
        """The period chosen; dates typed over a named period's own dates make it a custom one."""
        zone, now = await self.zone(), self._clock()
        chosen = resolve_period(kind, first, last, zone=zone, now=now)
        if chosen.kind != "custom" and first and last and (first, last) != (str(chosen.first), str(chosen.last)):
            return resolve_period("custom", first, last, zone=zone, now=now)
        return chosen

    async def _scope(self, actor: User, extension: str) -> int | None:
        """Whose figures: an agent always their own; an admin everyone's or the chosen user's."""
        if not actor.is_admin:
            return actor.id
        if not extension.strip():
            return None
        chosen = await self._cache.user(extension.strip())
        if chosen is None:
            raise ServiceError(422, "no such user", "user")
        return chosen.id

    async def user_choices(self, actor: User) -> list[tuple[str, str]]:
        """(extension, "name (extension)") of every user, for an admin's filter; nothing for an agent."""
        if not actor.is_admin:
            return []
        async with self._db.read() as conn:
            rows = await directory.list_users(conn)
        return [(row.extension, f"{row.name} ({row.extension})") for row in rows]

    async def overview(self, actor: User, period: Period, user: str = "", users_page: int = 1) -> dict[str, Any]:
        """The /stats figures: per day, per user (a page), per company number, per status, and the totals.

        Per day and per status count every message; per user, per number and the totals count SMS, MMS and WhatsApp
        apart (``sent``/``in``/``out``/``segments`` are SMS, ``mms_*`` MMS, ``whatsapp_*`` WhatsApp) and cost them.
        """
        user_id = await self._scope(actor, user)
        zone = await self.zone()
        month = self._clock().strftime("%Y-%m")  # the package month, as services.send counts it (UTC)
        async with self._db.read() as conn:
            groups = await store.count_grouped(conn, offset_spans(period.since, period.until, zone), user_id)
            received = await store.received_by_user(conn, period.since, period.until, user_id)
            used = await store.list_usage(conn, month, [user_id] if user_id is not None else None)
            senders = {g.user_id for g in groups if g.direction == "out" and g.user_id is not None}
            ids = senders | {r.user_id for r in received} | set(used) | ({user_id} if user_id is not None else set())
            people = await store.list_users(conn, sorted(ids))
        days: dict[str, dict[str, Any]] = {d.isoformat(): {"day": d, "in": 0, "out": 0} for d in period.days}
        statuses: dict[tuple[str, str], int] = {}
        for g in groups:
            if str(g.day) in days:
                days[str(g.day)][g.direction] += int(g.messages)
            statuses[g.status, g.direction] = statuses.get((g.status, g.direction), 0) + int(g.messages)
        by_user = self._by_user(people, groups, received, used)
        start = (max(1, users_page) - 1) * USERS_PAGE
        return {
            "days": list(days.values()),
            "by_user": by_user[start : start + USERS_PAGE],
            "users_page": max(1, users_page),
            "users_more": len(by_user) > start + USERS_PAGE,
            "by_number": self._by_number(groups),
            "by_status": [
                {"status": status, "direction": direction, "messages": n}
                for (status, direction), n in sorted(statuses.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "totals": self._totals(groups),
            "month": month,
        }

    @staticmethod
    def _by_user(people: dict[int, Any], groups: Any, received: Any, used: dict[int, int]) -> list[Any]:
        rows: dict[int, dict[str, Any]] = {}
        for uid, person in people.items():
            rows[uid] = {
                "extension": person.extension, "name": person.name, "sent": 0, "received": 0, "segments": 0,
                "mms_sent": 0, "mms_received": 0, "whatsapp_sent": 0, "whatsapp_received": 0, "cost": {},
                "used": used.get(uid, 0),
                "package": int(person.sms_package),
            }  # fmt: skip
        for g in groups:
            row = rows.get(g.user_id) if g.direction == "out" else None
            if row is None:
                continue
            if g.channel == "sms":
                row["sent"] += int(g.messages)
                row["segments"] += int(g.segments)
            elif g.channel in ("mms", "whatsapp"):
                row[f"{g.channel}_sent"] += int(g.messages)
            _add_cost(row["cost"], g)
        for r in received:
            if r.user_id in rows and r.channel in ("sms", "mms", "whatsapp"):
                rows[r.user_id]["received" if r.channel == "sms" else f"{r.channel}_received"] += int(r.received)
        for row in rows.values():
            row["cost_text"] = _money(row["cost"])
            row["quota_percent"] = min(100, round(100 * row["used"] / row["package"])) if row["package"] else 100
        activity = ("sent", "received", "mms_sent", "mms_received", "whatsapp_sent", "whatsapp_received")
        return sorted(rows.values(), key=lambda r: (-sum(r[k] for k in activity), r["extension"]))

    @staticmethod
    def _by_number(rows: Any) -> list[dict[str, Any]]:
        numbers: dict[str, dict[str, Any]] = {}
        for r in rows:
            entry = numbers.setdefault(r.number, {"number": r.number, **_channel_counts()})
            _count(entry, r)
        activity = ("in", "out", "mms_in", "mms_out", "whatsapp_in", "whatsapp_out")
        return sorted(numbers.values(), key=lambda n: (-sum(n[k] for k in activity), n["number"]))

    @staticmethod
    def _totals(groups: Any) -> dict[str, Any]:
        totals: dict[str, Any] = _channel_counts()
        cost: dict[str, Decimal] = {}
        mms_cost: dict[str, Decimal] = {}
        for g in groups:
            _count(totals, g)
            if g.direction == "out":
                _add_cost(cost, g)
                if g.channel == "mms":
                    _add_cost(mms_cost, g)
        totals["cost_text"] = _money(cost)
        totals["mms_cost_text"] = _money(mms_cost)
        return totals

    async def query(self, actor: User, f: ReportFilter) -> MessageQuery:
        """The report's filter checked and turned into a query (raises ServiceError(422) naming the field)."""
        period = await self.period(f.period, f.first, f.last)
        if f.direction not in ("", "in", "out"):
            raise ServiceError(422, "choose in or out", "direction")
        if f.status and f.status not in STATUSES:
            raise ServiceError(422, "no such status", "status")
        return MessageQuery(
            since=period.since,
            until=period.until,
            user_id=await self._scope(actor, f.user),
            direction=f.direction or None,
            status=f.status or None,
            sender=f.sender.strip() or None,
            recipient=f.recipient.strip() or None,
            text=f.text.strip() or None,
        )

    async def messages(self, q: MessageQuery, *, before: str | None, limit: int = 50) -> dict[str, Any]:
        """One page of the report, newest first, and the id the next page starts before (None: the last page)."""
        limit = max(1, min(limit, 200))
        async with self._db.read() as conn:
            rows = await store.list_messages(conn, replace(q, before_id=before or None, limit=limit + 1))
        return {"messages": rows[:limit], "next": rows[limit - 1].id if len(rows) > limit else None}

    async def export_csv(self, q: MessageQuery, *, batch: int = EXPORT_BATCH) -> AsyncIterator[str]:
        """Every matching message as CSV, a batch per short read: memory stays flat however many rows match."""
        zone = await self.zone()
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        yield buffer.getvalue()
        before: str | None = None
        while True:
            async with self._db.read() as conn:
                rows = await store.list_messages(conn, replace(q, before_id=before, limit=batch))
            if not rows:
                return
            buffer.seek(0)
            buffer.truncate()
            for r in rows:
                writer.writerow(
                    [
                        r.id, r.created_at.astimezone(zone).isoformat(timespec="seconds"), r.direction,
                        safe_cell(r.sender), safe_cell(r.recipient), r.extension or "", safe_cell(r.user_name),
                        r.status, r.segments, r.charge or "", r.currency or "", safe_cell(r.body),
                        safe_cell(r.error), r.channel,
                    ]
                )  # fmt: skip
            yield buffer.getvalue()
            if len(rows) < batch:
                return
            before = rows[-1].id
