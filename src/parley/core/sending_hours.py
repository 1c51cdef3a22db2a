"""Campaign sending hours, in each recipient's own local time (the zone is read from the number). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as number_zones


@dataclass(frozen=True)
class SendingHours:
    start: time
    end: time  # exclusive; an end before the start crosses midnight (20:00-02:00)

    def to_doc(self) -> dict[str, str]:
        return {"from": self.start.strftime("%H:%M"), "to": self.end.strftime("%H:%M")}


def parse_sending_hours(doc: Mapping[str, Any], path: str = "hours") -> SendingHours:
    """``{"from": "09:00", "to": "20:00"}``; raises ValueError naming the field."""
    parsed = []
    for key in ("from", "to"):
        raw = doc.get(key)
        try:
            parsed.append(time.fromisoformat(str(raw)) if raw is not None else None)
        except ValueError:
            raise ValueError(f'{path}.{key}: "{raw}" is not a time like 09:00') from None
        if parsed[-1] is None:
            raise ValueError(f"{path}.{key}: is required")
    start, end = parsed
    if start is None or end is None or start == end:
        raise ValueError(f"{path}: from and to must differ")
    return SendingHours(start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0))


def recipient_zone(e164: str, default: str) -> str:
    """The time zone of a number (the first phonenumbers gives); ``default`` when it cannot tell."""
    try:
        zones = number_zones.time_zones_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return default
    known = [z for z in zones if z != number_zones.UNKNOWN_TIMEZONE]
    return known[0] if known else default


def _inside(hours: SendingHours, wall: time) -> bool:
    if hours.start < hours.end:
        return hours.start <= wall < hours.end
    return wall >= hours.start or wall < hours.end


def next_allowed(hours: SendingHours | None, zone: str, now: datetime) -> datetime | None:
    """None when a message may go now; otherwise the next moment (UTC) the recipient's hours open."""
    if hours is None:
        return None
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    if _inside(hours, local.time()):
        return None
    opening = datetime.combine(local.date(), hours.start, tzinfo=tz)
    if opening <= local:
        opening = datetime.combine(local.date() + timedelta(days=1), hours.start, tzinfo=tz)
    return opening.astimezone(UTC)
