"""Twilio's Messages resource, pure (issue 13 §3): the answer's shape, RFC 2822 dates, errors, statuses, paging
and the request values Twilio's clients send (``SendAt``, ``DateSent``, ``PageToken``).

Facts from /work/shared/reference/wire-formats.md ("Twilio Messages REST resource") and Twilio's error pages:
numbers of segments and media are strings, dates are RFC 2822 in GMT (``Thu, 24 Aug 2026 10:00:00 +0000``), an
error is ``{"code", "message", "more_info", "status"}``, a list page carries its records under ``messages`` with
``page``, ``page_size``, ``start``, ``end``, ``uri``, ``first_page_uri``, ``next_page_uri``, ``previous_page_uri``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode, urlsplit

API_VERSION = "2010-04-01"
MORE_INFO = "https://www.twilio.com/docs/errors/{code}"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
SCHEDULE_MIN = timedelta(seconds=300)  # Twilio error 35114: "more than 300 seconds and at most 35 days ahead"
SCHEDULE_MAX = timedelta(days=35)
UNKNOWN_ERROR = 30008  # Twilio's "Unknown error" for a failed message whose provider code is not a number

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Parley's statuses as Twilio names them: a campaign's "submitting" is on its way ("sending"), an inbound message
# an agent blocked was still received, and Twilio spells "canceled" with one l.
_STATUSES = {
    "scheduled": "scheduled",
    "queued": "queued",
    "sending": "sending",
    "submitting": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "undelivered",
    "failed": "failed",
    "received": "received",
    "blocked": "received",
    "cancelled": "canceled",
}
MAX_URL = 2048
_MEDIA_PATH = "/api/v2/media/"
_MEDIA_ID = re.compile(r"[0-9a-f]{1,32}")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_PAGE_TOKEN = re.compile(r"P([AB])([0-9a-f]{1,32})")


def rfc2822(at: datetime | None) -> str | None:
    """``Thu, 24 Aug 2026 10:00:00 +0000`` (always GMT; English names whatever the locale)."""
    if at is None:
        return None
    utc = at.astimezone(UTC)
    return f"{_DAYS[utc.weekday()]}, {utc.day:02d} {_MONTHS[utc.month - 1]} {utc.year:04d} {utc:%H:%M:%S} +0000"


def twilio_status(status: str) -> str:
    return _STATUSES.get(status, status)


def error_body(code: int, message: str, status: int) -> dict[str, object]:
    return {"code": code, "message": message, "more_info": MORE_INFO.format(code=code), "status": status}


@dataclass(frozen=True)
class MessageFacts:
    """What the resource shows of one Parley message."""

    sid: str
    direction: str  # "out" | "in"
    sender: str
    recipient: str
    body: str
    status: str  # Parley's
    segments: int
    media: int
    charge: str | None
    currency: str | None
    error_code: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    messaging_service_sid: str | None = None


def error_code(facts: MessageFacts) -> int | None:
    """The provider's numeric code; a failure without one is Twilio's 30008 (unknown error)."""
    if facts.error_code is not None and facts.error_code.isdigit():
        return int(facts.error_code)
    if facts.status in ("failed", "undelivered"):
        return UNKNOWN_ERROR
    return None


def message_uri(account_sid: str, sid: str) -> str:
    return f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json"


def list_uri(account_sid: str, params: Sequence[tuple[str, str]] = ()) -> str:
    query = urlencode(list(params))
    return f"/{API_VERSION}/Accounts/{account_sid}/Messages.json" + (f"?{query}" if query else "")


def message_resource(facts: MessageFacts, account_sid: str) -> dict[str, object]:
    """The Message resource as Twilio answers it."""
    base = message_uri(account_sid, facts.sid).removesuffix(".json")
    return {
        "sid": facts.sid,
        "account_sid": account_sid,
        "messaging_service_sid": facts.messaging_service_sid,
        "api_version": API_VERSION,
        "from": facts.sender,
        "to": facts.recipient,
        "body": facts.body,
        "status": twilio_status(facts.status),
        "direction": "inbound" if facts.direction == "in" else "outbound-api",
        "num_segments": str(facts.segments),
        "num_media": str(facts.media),
        "price": f"-{facts.charge}" if facts.charge is not None else None,  # Twilio shows costs negative
        "price_unit": facts.currency,
        "error_code": error_code(facts),
        "error_message": facts.error if error_code(facts) is not None else None,
        "date_created": rfc2822(facts.created_at),
        "date_updated": rfc2822(facts.updated_at),
        "date_sent": rfc2822(facts.sent_at),
        "uri": message_uri(account_sid, facts.sid),
        "subresource_uris": {"media": f"{base}/Media.json", "feedback": f"{base}/Feedback.json"},
    }


# --- request values --------------------------------------------------------------------------------------------


def parse_instant(value: str) -> datetime | None:
    """An ISO 8601 instant as Twilio's clients send it (``2026-11-30T17:00:00Z``, an offset, or fractions); a
    value without a zone is UTC. None when it is not one."""
    text = value.strip()
    if not text or len(text) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def media_id_of(url: str) -> str | None:
    """The id of a file uploaded to this server (`POST /api/v2/media`) from its URL, whatever the host: the path
    ends in ``/api/v2/media/<id>``. None for any other URL."""
    try:
        path = urlsplit(url.strip()).path
    except ValueError:
        return None
    _head, sep, media = path.rpartition(_MEDIA_PATH)
    return media if sep and _MEDIA_ID.fullmatch(media) else None


def callback_problem(url: str) -> str | None:
    """Why ``url`` cannot be a ``StatusCallback`` (not http or https, no host, too long), or None. The rules on
    where it may point (loopback, private addresses) are applied where callbacks are delivered."""
    if len(url) > MAX_URL:
        return f"it is longer than {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "it is not a URL"
    if parts.scheme not in ("http", "https"):
        return "it must be an http or https URL"
    if not host:
        return "it has no host"
    return None


def schedule_problem(send_at: datetime, now: datetime) -> str | None:
    """Why ``send_at`` cannot be scheduled (Twilio's window, error 35114), or None."""
    ahead = send_at - now
    if ahead <= SCHEDULE_MIN or ahead > SCHEDULE_MAX:
        return "SendAt must be more than 300 seconds and at most 35 days in the future"
    return None


@dataclass(frozen=True)
class SentRange:
    """Messages sent at or after ``since`` and before ``until`` (either open)."""

    since: datetime | None = None
    until: datetime | None = None


def date_sent_range(exact: str | None, before: str | None, after: str | None) -> SentRange:
    """The ``DateSent``, ``DateSent<`` and ``DateSent>`` filters as one range; raises ValueError naming the bad one.

    A date alone (``2026-11-30``, or midnight as twilio-python serialises dates) means that whole GMT day: exact
    matches the day, ``<`` includes it and everything before, ``>`` it and everything after (Twilio's docs: "on and
    before", "on and after"). An instant with a time means that second.
    """
    since: datetime | None = None
    until: datetime | None = None
    for name, value in (("DateSent", exact), ("DateSent<", before), ("DateSent>", after)):
        if value is None or value == "":
            continue
        start, end = _day_or_second(name, value)
        if name in ("DateSent", "DateSent>"):
            since = start if since is None else max(since, start)
        if name in ("DateSent", "DateSent<"):
            until = end if until is None else min(until, end)
    return SentRange(since, until)


def _day_or_second(name: str, value: str) -> tuple[datetime, datetime]:
    text = value.strip().lstrip("<>=")  # "<=2026-11-30" as Twilio's docs write it
    if _DATE_ONLY.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not a date") from None
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return start, start + timedelta(days=1)
    instant = parse_instant(text)
    if instant is None:
        raise ValueError(f"{name}: {value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time")
    if instant.time() == datetime.min.time():
        return instant, instant + timedelta(days=1)
    return instant, instant + timedelta(seconds=1)


def page_size(value: str | None) -> int:
    """``PageSize``: 1 to 1000, 50 when absent; raises ValueError otherwise."""
    if value is None or value == "":
        return DEFAULT_PAGE_SIZE
    if not value.strip().isdigit() or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise ValueError(f"PageSize must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(value)


def page_number(value: str | None) -> int:
    """``Page``: the client's own count (0 first); raises ValueError when it is not a number."""
    if value is None or value == "":
        return 0
    if not value.strip().isdigit() or len(value) > 9:
        raise ValueError("Page must be a whole number")
    return int(value)


@dataclass(frozen=True)
class PageToken:
    """Where a page starts: after (older than) or before (newer than) one message id."""

    older_than: str | None = None
    newer_than: str | None = None


def page_token(value: str | None) -> PageToken:
    """``PA<id>``: the messages after it; ``PB<id>``: the ones before it. Raises ValueError for anything else."""
    if value is None or value == "":
        return PageToken()
    match = _PAGE_TOKEN.fullmatch(value)
    if match is None:
        raise ValueError("PageToken is not one this server gave")
    kind, message_id = match.groups()
    return PageToken(older_than=message_id) if kind == "A" else PageToken(newer_than=message_id)


@dataclass(frozen=True)
class PageFacts:
    account_sid: str
    filters: tuple[tuple[str, str], ...]  # the request's filters, repeated in every page link
    size: int
    number: int
    token: str | None  # the request's own PageToken
    first_id: str | None  # the page's newest message id
    last_id: str | None  # ... and its oldest
    has_older: bool
    has_newer: bool


def page_links(p: PageFacts, count: int) -> dict[str, object]:
    """The page's metadata, its links carrying the filters, the size, the page number and a token."""

    def uri(number: int, token: str | None) -> str:
        params = [*p.filters, ("PageSize", str(p.size)), ("Page", str(number))]
        return list_uri(p.account_sid, params + ([("PageToken", token)] if token else []))

    start = p.number * p.size
    older = f"PA{p.last_id}" if p.has_older and p.last_id else None
    newer = f"PB{p.first_id}" if p.has_newer and p.first_id and p.number > 0 else None
    return {
        "page": p.number,
        "page_size": p.size,
        "start": start,
        "end": start + count - 1 if count else start,
        "uri": uri(p.number, p.token),
        "first_page_uri": uri(0, None),
        "next_page_uri": uri(p.number + 1, older) if older else None,
        "previous_page_uri": uri(p.number - 1, newer) if newer else None,
    }
