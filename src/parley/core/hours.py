"""Working hours of a company number (seed 002: "days + time ranges, several rules, a time zone"). Pure.

A rule names weekdays and wall-clock ranges in the schedule's time zone. A range's end is exclusive; a range whose
end is not after its start crosses midnight and belongs to the day it starts on (Friday 22:00-02:00 is open until
Saturday 02:00); ``00:00-24:00`` (equally ``00:00-00:00``) is the whole day. Rules add up: open when any rule says so.

Everything is judged on the wall clock of the schedule's zone, through zoneinfo, so DST is handled the way people
expect: "09:00-17:00" means nine to five local time on both sides of a change. On the day clocks skip an hour a
boundary inside the gap takes effect at the jump; on the day they repeat an hour the repeated wall times count twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RANGE = re.compile(r"\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*")
_HORIZON = timedelta(days=8)  # a weekly schedule that does not change within 8 days never changes


class HoursError(ValueError):
    """A working-hours document that cannot be used; ``problems`` names each fault by its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class HoursRule:
    days: frozenset[int]  # 0 = Monday … 6 = Sunday (datetime.weekday)
    ranges: tuple[tuple[time, time], ...]  # [start, end); end <= start crosses midnight


@dataclass(frozen=True)
class WorkingHours:
    timezone: str  # IANA name, e.g. "Europe/Rome"
    rules: tuple[HoursRule, ...]


# -- reading and writing the document ------------------------------------------------------------------------------


def _day_index(name: str) -> int | None:
    key = name.strip().lower()
    for names in (DAY_NAMES, _FULL_DAY_NAMES):
        if key in names:
            return names.index(key)
    return None


def _parse_days(raw: Any, path: str, problems: list[str]) -> frozenset[int]:
    if not isinstance(raw, list) or not all(isinstance(d, str) for d in raw):
        problems.append(f"{path}: must be a list of day names such as mon, tue or mon-fri")
        return frozenset()
    days: set[int] = set()
    for i, entry in enumerate(raw):
        first, dash, last = entry.partition("-")
        start, end = _day_index(first), _day_index(last if dash else first)
        if start is None or end is None:
            problems.append(f'{path}[{i}]: "{entry}" is not a day (mon … sun) or a span of days (mon-fri)')
            continue
        # A span may wrap around the week: "sat-mon" is Saturday, Sunday, Monday.
        days.update((start + k) % 7 for k in range((end - start) % 7 + 1))
    if not raw:
        problems.append(f"{path}: must name at least one day")
    return frozenset(days)


def _parse_range(raw: Any, path: str, problems: list[str]) -> tuple[time, time] | None:
    match = _RANGE.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        shown = f'"{raw}"' if isinstance(raw, str) else repr(raw)
        problems.append(f"{path}: {shown} is not HH:MM-HH:MM")
        return None
    sh, sm, eh, em = (int(g) for g in match.groups())
    if sh > 23 or sm > 59 or eh > 24 or em > 59 or (eh == 24 and em != 0):
        problems.append(f'{path}: "{raw}" is not a time range within a day (00:00 to 24:00)')
        return None
    return time(sh, sm), time(0 if eh == 24 else eh, em)  # 24:00 is the next midnight


def _parse_rule(raw: Any, path: str, problems: list[str]) -> HoursRule | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{path}: must be an object with days and ranges")
        return None
    days = _parse_days(raw.get("days"), f"{path}.days", problems)
    ranges_raw = raw.get("ranges")
    if not isinstance(ranges_raw, list):
        problems.append(f'{path}.ranges: must be a list of time ranges such as "09:00-17:00"')
        return None
    if not ranges_raw:
        problems.append(f"{path}.ranges: must list at least one time range")
    ranges = [_parse_range(r, f"{path}.ranges[{i}]", problems) for i, r in enumerate(ranges_raw)]
    return HoursRule(days=days, ranges=tuple(r for r in ranges if r is not None))


def parse_hours(doc: Mapping[str, Any], path: str = "hours", *, default_timezone: str | None = None) -> WorkingHours:
    """Read working hours from ``{"timezone": "Europe/Rome", "rules": [{"days": [...], "ranges": [...]}]}``.

    Days are ``mon`` … ``sun`` (any case, full names too) or spans such as ``mon-fri``; ranges are ``HH:MM-HH:MM``.
    ``default_timezone`` (the PBX zone) is used when the document names none. An empty list of rules is a schedule
    that is never open. Raises HoursError naming every problem by its path.
    """
    problems: list[str] = []
    if not isinstance(doc, Mapping):
        raise HoursError([f"{path}: must be an object with timezone and rules"])
    zone = doc.get("timezone", default_timezone)
    if not isinstance(zone, str) or not zone.strip():
        problems.append(f"{path}.timezone: is required")
        zone = ""
    else:
        zone = zone.strip()
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f'{path}.timezone: "{zone}" is not a known time zone')
    rules_raw = doc.get("rules")
    rules: list[HoursRule] = []
    if not isinstance(rules_raw, list):
        problems.append(f"{path}.rules: must be a list of rules")
    else:
        for i, raw in enumerate(rules_raw):
            rule = _parse_rule(raw, f"{path}.rules[{i}]", problems)
            if rule is not None:
                rules.append(rule)
    if problems:
        raise HoursError(problems)
    return WorkingHours(timezone=zone, rules=tuple(rules))


def _format_range(start: time, end: time) -> str:
    # An end at midnight after a start is written 24:00: "22:00-24:00", "00:00-24:00".
    end_text = "24:00" if end == time(0) else end.strftime("%H:%M")
    return f"{start.strftime('%H:%M')}-{end_text}"


def hours_to_doc(hours: WorkingHours) -> dict[str, Any]:
    """The document form of ``hours`` (for the API and the provisioning file); ``parse_hours`` reads it back."""
    return {
        "timezone": hours.timezone,
        "rules": [
            {
                "days": [DAY_NAMES[d] for d in sorted(rule.days)],
                "ranges": [_format_range(start, end) for start, end in rule.ranges],
            }
            for rule in hours.rules
        ],
    }


# -- judging instants ----------------------------------------------------------------------------------------------


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("working hours need a timezone-aware datetime")
    return at


def _open_at_wall(hours: WorkingHours, wall: datetime) -> bool:
    """Whether the schedule is open at a local wall-clock time (naive or not, only its fields count)."""
    clock, weekday = wall.time(), wall.weekday()
    yesterday = (weekday - 1) % 7
    for rule in hours.rules:
        for start, end in rule.ranges:
            if end > start:
                if weekday in rule.days and start <= clock < end:
                    return True
            elif (weekday in rule.days and clock >= start) or (yesterday in rule.days and clock < end):
                return True
    return False


def is_open(hours: WorkingHours | None, at: datetime) -> bool:
    """Whether ``hours`` are open at instant ``at`` (timezone-aware); no working hours means always open."""
    _aware(at)
    if hours is None:
        return True
    return _open_at_wall(hours, at.astimezone(ZoneInfo(hours.timezone)))


def _instants(wall: datetime, zone: ZoneInfo) -> set[datetime]:
    """The UTC instants a local wall time names: two in a repeated hour, one otherwise (a skipped one is mapped
    either side of the jump, which is itself a candidate)."""
    return {wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)}


def _offset_changes(zone: ZoneInfo, start: datetime, end: datetime) -> Iterator[datetime]:
    """Instants in [start, end] where the zone's UTC offset changes (DST and rule changes), to the second."""
    step = timedelta(hours=1)
    lo = start.astimezone(UTC).replace(microsecond=0)
    while lo < end:
        hi = lo + step
        if lo.astimezone(zone).utcoffset() != hi.astimezone(zone).utcoffset():
            before = lo.astimezone(zone).utcoffset()
            while hi - lo > timedelta(seconds=1):  # bisect to the first second with the new offset
                mid = lo + timedelta(seconds=(hi - lo).total_seconds() // 2)
                lo, hi = (mid, hi) if mid.astimezone(zone).utcoffset() == before else (lo, mid)
            yield hi
        lo = hi


def _boundaries(hours: WorkingHours, zone: ZoneInfo, first_day: date) -> Iterator[datetime]:
    """Local wall times where some range opens or closes, from the day before ``first_day`` on."""
    for k in range(-1, _HORIZON.days + 2):
        day = first_day + timedelta(days=k)
        for rule in hours.rules:
            if day.weekday() not in rule.days:
                continue
            for start, end in rule.ranges:
                yield datetime.combine(day, start)
                yield datetime.combine(day if end > start else day + timedelta(days=1), end)


def next_change(hours: WorkingHours | None, at: datetime) -> datetime | None:
    """The first instant after ``at`` when ``is_open`` changes, in UTC; None when it does not change within 8 days
    (no hours, a schedule that is always or never open).

    Every change happens either at a range boundary or at a jump of the zone's clock, so those instants are the only
    candidates; between two consecutive candidates the answer of ``is_open`` is constant.
    """
    _aware(at)
    if hours is None:
        return None
    zone = ZoneInfo(hours.timezone)
    limit = at + _HORIZON
    candidates = set(_offset_changes(zone, at, limit))
    for wall in _boundaries(hours, zone, at.astimezone(zone).date()):
        candidates |= _instants(wall, zone)
    now_open = is_open(hours, at)
    for instant in sorted(c for c in candidates if at < c <= limit):
        if is_open(hours, instant) != now_open:
            return instant
    return None
