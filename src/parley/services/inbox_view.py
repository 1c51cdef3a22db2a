"""What the console's inbox reads: the conversation list page, the choices its forms offer, one timeline
merged from messages, events and calls, and the composer's live count (one source of truth: ``core.text``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.store import inbox_view as store
from parley.store.db import Database
from parley.store.inbox_view import InboxFilter
from parley.store.tables import Record

PAGE_SIZE = 50
FILTERS = ("all", "mine", "assigned", "unassigned")


@dataclass(frozen=True)
class InboxQuery:
    """What the user asked the list for; every field comes from the page's filter form."""

    filter: str = "all"  # all | mine | assigned | unassigned
    service_id: int | None = None
    company_number: str | None = None
    unread_only: bool = False
    search: str | None = None
    after: str | None = None  # the cursor of the previous page
    limit: int = PAGE_SIZE


@dataclass(frozen=True)
class InboxPage:
    rows: list[Record]
    next_cursor: str | None  # None on the last page


@dataclass(frozen=True)
class TimelineItem:
    kind: str  # message | event | call
    at: datetime
    row: Any


def encode_cursor(row: Record) -> str:
    return f"{row.updated_at.astimezone(UTC).isoformat()}|{row.id}"


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """A cursor from the page's "older" link; a damaged one starts from the top rather than failing."""
    if not cursor or "|" not in cursor:
        return None
    at, _, cid = cursor.partition("|")
    try:
        parsed = datetime.fromisoformat(at)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)), cid


def merge_timeline(found: dict[str, Any]) -> list[TimelineItem]:
    """Messages, system events and calls of ``Conversations.timeline`` as one list, oldest first."""
    items = [TimelineItem("message", m.created_at, m) for m in found["messages"]]
    items += [TimelineItem("event", e.at, e) for e in found["events"]]
    items += [TimelineItem("call", c.started_at, c) for c in found["calls"]]
    return sorted(items, key=lambda i: i.at)


_EVENT_WORDS = {
    "opened": "{actor} opened the conversation",
    "joined": "{member} joined",
    "left": "{member} left",
    "removed": "{actor} removed {member}",
    "assigned": "{actor} assigned it to {assignee}",
    "renamed": "{actor} renamed it “{title}”",
    "blocked": "{actor} blocked the customer",
    "unblocked": "{actor} unblocked the customer",
    "opted_out": "The customer opted out",
    "opted_in": "The customer opted back in",
    "probable_opt_out": "The customer may want to opt out: “{text}”",
    "help_requested": "The customer asked for help",
    "action": "Action “{action}” ran",
    "not_sent": "Bot {bot} could not send: {reason}",
}


def describe_event(kind: str, actor: str | None, detail: dict[str, Any], people: dict[str, str]) -> str:
    """One line for a system event; ``people`` names members by key ("u:7" → "Bob (102)")."""

    def who(key: Any) -> str:
        if not key:
            return "nobody"
        key = str(key)
        if key in people:
            return people[key]
        if key.startswith("b:"):
            return f"bot {key[2:]}"
        return str({"customer": "The customer", "system": "Parley"}.get(key, key))

    values = {
        "actor": who(actor),
        "member": who(detail.get("member")),
        "assignee": detail.get("assignee") or "nobody (unassigned)",
        "title": detail.get("title", ""),
        "text": detail.get("text", ""),
        "action": detail.get("action", ""),
        "bot": detail.get("bot", ""),
        "reason": detail.get("reason", ""),
    }
    template = _EVENT_WORDS.get(kind)
    line = template.format(**values) if template else f"{kind.replace('_', ' ')} ({values['actor']})"
    return line[:1].upper() + line[1:]


def member_keys(events: list[Any]) -> list[int]:
    """The user ids named by events (as actor or member)."""
    ids: set[int] = set()
    for e in events:
        for key in (e.actor, (e.detail or {}).get("member")):
            if isinstance(key, str) and key.startswith("u:") and key[2:].isdigit():
                ids.add(int(key[2:]))
    return sorted(ids)


class InboxView:
    def __init__(
        self, db: Database, cache: DirectoryCache, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._db = db
        self._cache = cache
        self._clock = clock

    def now(self) -> datetime:
        """The server's time (shifted in end-to-end tests): the console's WhatsApp window is counted from it."""
        return self._clock()

    async def page(self, user: User, q: InboxQuery) -> InboxPage:
        """One page of the conversations ``user`` may see (admins: all), most recently active first."""
        kind = q.filter if q.filter in FILTERS else "all"
        f = InboxFilter(
            viewer_id=user.id,
            see_all=user.is_admin,
            mine=kind == "mine",
            assignee_id=user.id if kind == "assigned" else None,
            unassigned=kind == "unassigned",
            service_id=q.service_id,
            company_number=q.company_number or None,
            unread_only=q.unread_only,
            search=(q.search or "").strip() or None,
            after=decode_cursor(q.after),
            limit=min(max(q.limit, 1), store.MAX_PAGE) + 1,  # one more: is there an older page?
        )
        async with self._db.read() as conn:
            rows = await store.list_page(conn, f)
        more = len(rows) >= f.limit
        rows = rows[: f.limit - 1]
        return InboxPage(rows, encode_cursor(rows[-1]) if more and rows else None)

    async def sms_services(self) -> list[Record]:
        async with self._db.read() as conn:
            return await store.list_sms_services(conn)

    async def company_numbers(self, user: User) -> list[str]:
        async with self._db.read() as conn:
            return await store.list_company_numbers(conn, None if user.is_admin else user.id)

    async def assignable(self, service_name: str | None) -> list[Record]:
        """Who a conversation of this service can be assigned to (its members)."""
        if not service_name:
            return []
        async with self._db.read() as conn:
            return await store.list_service_users(conn, service_name)

    async def names(self, extensions: list[str]) -> dict[str, str]:
        async with self._db.read() as conn:
            return await store.list_user_names(conn, extensions)

    async def people(self, events: list[Any]) -> dict[str, str]:
        """Names for the users events mention, by member key: {"u:7": "Bob (102)"}."""
        async with self._db.read() as conn:
            found = await store.list_users_by_id(conn, member_keys(events))
        return {f"u:{uid}": f"{r.name} ({r.extension})" for uid, r in found.items()}

    async def send_time(self, value: str | None) -> datetime | None:
        """A postpone field (datetime-local, in the PBX time zone) as UTC; empty: send now."""
        if not value or not value.strip():
            return None
        zone = await self.timezone()
        try:
            local = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ServiceError(422, "Give a date and time, e.g. 2026-05-01T09:30", "send_at") from None
        at = (local if local.tzinfo else local.replace(tzinfo=zone)).astimezone(UTC)
        if at <= self._clock():
            raise ServiceError(422, "The time to send is in the past", "send_at")
        return at

    async def timezone(self) -> ZoneInfo:
        name = (await self._cache.config()).timezone
        try:
            return ZoneInfo(name)
        except (KeyError, ValueError):
            return ZoneInfo("UTC")
