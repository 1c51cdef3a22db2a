"""Writing outbound webhook deliveries in the transaction that made the change (issue 13 §1; DESIGN "One event log").

`WebhookOutbox.write` runs as a `Database.before_commit` hook with what the transaction noted (`store.change_notes`):
each event gets its id and its body now, once, so every retry sends the same bytes; one delivery row per endpoint
that wants it (and may see it) and one per message status callback. It commits with the change or not at all, so
a crash can lose neither.

Cost: the enabled endpoints come from a per-process cache (`EndpointCache`, at most `ttl` seconds old; this process
drops it at once when it changes one). A transaction whose events no endpoint wants reads nothing more — except
that status changes of existing messages look up, by primary key, which of those messages have a status callback.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core import webhook_events as ev
from parley.core.twilio_ids import message_sid
from parley.services import campaigns as campaign_views
from parley.services.conversation_support import view as conversation_view
from parley.store import campaigns as campaign_store
from parley.store import conversations as conversation_store
from parley.store import event_sources
from parley.store import participants as participant_store
from parley.store import webhooks as store
from parley.store.change_notes import Notes

log = structlog.get_logger()
MEMO_SIZE = 100_000  # messages whose callback (or none) this process remembers
RenderMessage = Callable[[Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Endpoint:
    id: str
    owner_id: int
    is_admin: bool
    events: frozenset[str]
    url: str
    secret_sealed: str


@dataclass(frozen=True)
class Written:
    """What a transaction wrote: the receivers of deliveries left for a claim (``targets``), and the deliveries this
    process's sender leased as they were written (``leased``: it takes them once they are committed)."""

    targets: set[store.Target]
    leased: list[store.Leased]

    def __bool__(self) -> bool:
        return bool(self.targets or self.leased)


# Sets ``lease_until`` on the delivery rows this process's sender will take itself (`WebhookSender.lease`).
Lease = Callable[[list[dict[str, Any]]], None]


class EndpointCache:
    """The enabled endpoints, read at most every ``ttl`` seconds (other processes' changes show within it)."""

    def __init__(self, ttl: float = 2.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._monotonic = monotonic
        self._endpoints: list[Endpoint] | None = None
        self._read_at = 0.0

    def invalidate(self) -> None:
        self._endpoints = None

    async def get(self, conn: AsyncConnection) -> list[Endpoint]:
        now = self._monotonic()
        if self._endpoints is None or now - self._read_at > self._ttl:
            rows = await store.list_enabled(conn)
            self._endpoints = [
                Endpoint(r.id, r.owner_id, r.owner_role == "admin", frozenset(r.events), r.url, r.secret_sealed)
                for r in rows
            ]
            self._read_at = now
        return self._endpoints


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(14)


def to_json(value: Any) -> Any:
    """Datetimes as ISO 8601 UTC (``Z``), as the API writes them."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


@dataclass(frozen=True)
class _Event:
    type: str
    data: dict[str, Any]
    audience: frozenset[int]
    subject: str  # what it is about: its receiver gets one subject's events in order (the sender's lanes)


class WebhookOutbox:
    def __init__(
        self,
        clock: Callable[[], datetime],
        render_message: RenderMessage,
        cache: EndpointCache | None = None,
        lease: Lease | None = None,
    ) -> None:
        self._clock = clock
        self._render = render_message
        self.cache = cache or EndpointCache()
        self._lease = lease
        # Whether a message has a status callback, for messages this process wrote or read lately: it is set when
        # the message is made and never changes, so a status change of a message known here needs no lookup.
        self._has_callback: dict[str, bool] = {}

    async def write(self, conn: AsyncConnection, notes: Notes) -> Written:
        """Write the deliveries of what the transaction noted. This process's sender leases those it will take
        itself; `Database.before_commit` hands it what was written once it is committed."""
        try:
            endpoints = await self.cache.get(conn)
            rows = await self._rows(conn, notes, endpoints)
        except DBAPIError:
            raise  # the transaction cannot commit anyway
        except Exception:  # a bug in making an event must not undo the change it announces
            log.exception("webhooks.event_failed")
            return Written(set(), [])
        if rows and self._lease is not None:
            self._lease(rows)
        left = [row for row in rows if row["lease_until"] is None]
        taken = [row for row in rows if row["lease_until"] is not None]
        await store.add_deliveries(conn, left)
        ids = await store.add_leased_deliveries(conn, taken)
        by_id = {e.id: e for e in endpoints} if taken else {}
        return Written(
            {store.target(row["endpoint_id"], row["url"]) for row in left},
            [
                _leased(row, delivery_id, by_id.get(row["endpoint_id"]))
                for row, delivery_id in zip(taken, ids, strict=True)
            ],
        )

    async def _rows(self, conn: AsyncConnection, notes: Notes, endpoints: list[Endpoint]) -> list[dict[str, Any]]:
        wanted = {t for e in endpoints for t in e.events}
        now = self._clock()
        rows: list[dict[str, Any]] = []
        events: list[_Event] = []
        rows += await self._statuses(conn, notes, endpoints, ev.MESSAGE_STATUS in wanted, now)
        if notes.routed and ev.MESSAGE_RECEIVED in wanted:
            found = await event_sources.messages_for_events(conn, notes.routed)
            inbound = [r for r in found.values() if r.direction == "in"]
            audiences = await event_sources.audience_of_conversations(conn, [r.conversation_id for r in inbound])
            for row in inbound:
                data = self._render(row._mapping)
                audience = frozenset(audiences.get(row.conversation_id, ()))
                events.append(_Event(ev.MESSAGE_RECEIVED, data, audience, str(row.id)))
        if notes.conversations and wanted & {ev.CONVERSATION_CREATED, ev.CONVERSATION_UPDATED}:
            events += await self._conversations(conn, notes.conversations, wanted)
        if notes.campaigns and ev.CAMPAIGN_FINISHED in wanted:
            for campaign_id in dict.fromkeys(notes.campaigns):
                campaign = await campaign_store.find(conn, campaign_id)
                if campaign is not None:
                    view = campaign_views.view(campaign, await campaign_store.counts(conn, campaign_id))
                    events.append(
                        _Event(ev.CAMPAIGN_FINISHED, _jsonable(view), _users(campaign.owner_id), str(campaign_id))
                    )
        for event in events:
            rows += _for_endpoints(endpoints, new_event_id(), event, now)
        return rows

    async def _statuses(
        self, conn: AsyncConnection, notes: Notes, endpoints: list[Endpoint], wanted: bool, now: datetime
    ) -> list[dict[str, Any]]:
        """``message.status`` deliveries: to endpoints that want them, and to the messages' own callbacks."""
        memo = self._has_callback
        for created in notes.created:
            memo[str(created["id"])] = bool(created.get("status_callback"))
        for seen in notes.seen:
            memo[seen.id] = seen.status_callback is not None
        while len(memo) > MEMO_SIZE:
            del memo[next(iter(memo))]
        statuses = [(str(r["id"]), str(r["status"])) for r in notes.created if r.get("direction") == "out"]
        statuses += notes.statuses
        if wanted:
            found = await event_sources.messages_for_events(conn, [m for m, _ in statuses])
        else:  # only the messages that have (or may have: not seen in this process) a status callback
            maybe = [m for m, _ in statuses if memo.get(m, True)]
            found = await event_sources.with_callbacks(conn, maybe) if maybe else {}
        rows: list[dict[str, Any]] = []
        for message_id, status in statuses:
            row = found.get(message_id)
            if row is None:
                continue
            message = row._asdict()  # a plain dict at once: a RowMapping copied key by key cost more than the rest
            message["status"] = status
            data = self._render(message)
            event = _Event(ev.MESSAGE_STATUS, data, _users(row.user_id), message_id)
            event_id = new_event_id()
            if wanted:
                rows += _for_endpoints(endpoints, event_id, event, now)
            if row.status_callback:
                rows += _for_callback(row, event_id, event, status, now)
        return rows

    async def _conversations(
        self, conn: AsyncConnection, noted: Sequence[tuple[str, bool]], wanted: set[str]
    ) -> list[_Event]:
        created = {cid for cid, new in noted if new}
        ids = list(dict.fromkeys(cid for cid, _ in noted))
        members = await participant_store.members_of(conn, ids)
        events: list[_Event] = []
        for cid in ids:
            kind = ev.CONVERSATION_CREATED if cid in created else ev.CONVERSATION_UPDATED
            if kind not in wanted:
                continue
            conversation = await conversation_store.find(conn, cid)
            if conversation is None:
                continue
            view = conversation_view(conversation, members.get(cid, []), 0)
            del view["unread"]  # per reader: not part of an event
            audience = frozenset(int(m.user_id) for m in members.get(cid, []) if m.user_id is not None and m.active)
            events.append(_Event(kind, _jsonable(view), audience, cid))
        return events


def _leased(row: dict[str, Any], delivery_id: int, endpoint: Endpoint | None) -> store.Leased:
    return store.Leased(
        id=delivery_id,
        event_id=row["event_id"],
        event_type=row["event_type"],
        subject=row["subject"],
        endpoint_id=row["endpoint_id"],
        url=row["url"],
        api_key_id=row["api_key_id"],
        format=row["format"],
        body=row["body"],
        created_at=row["created_at"],
        endpoint_url=endpoint.url if endpoint else None,
        secret_sealed=endpoint.secret_sealed if endpoint else None,
        enabled=True if endpoint else None,
        lease_until=row["lease_until"],
    )


def _users(user_id: int | None) -> frozenset[int]:
    return frozenset() if user_id is None else frozenset({int(user_id)})


def _jsonable(view: Mapping[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(view, default=to_json))
    return loaded


def _row(event: _Event, event_id: str, body: str, now: datetime, **where: Any) -> dict[str, Any]:
    return {"event_id": event_id, "event_type": event.type, "subject": event.subject[:40], "endpoint_id": None,
            "url": None, "api_key_id": None, "format": "parley", "body": body, "state": store.PENDING, "attempts": 0,
            "due_at": now,
            "lease_until": None, "last_status": None, "last_error": None, "last_attempt_at": None,
            "delivered_at": None, "created_at": now} | where  # fmt: skip


def _for_endpoints(endpoints: Iterable[Endpoint], event_id: str, event: _Event, now: datetime) -> list[dict[str, Any]]:
    targets = [
        e
        for e in endpoints
        if event.type in e.events and ev.may_see(is_admin=e.is_admin, owner_id=e.owner_id, audience=event.audience)
    ]
    if not targets:
        return []
    body = ev.envelope(event_id, event.type, now, event.data)
    return [_row(event, event_id, body, now, endpoint_id=e.id) for e in targets]


def _for_callback(row: Any, event_id: str, event: _Event, status: str, now: datetime) -> list[dict[str, Any]]:
    """A message's own status callback: Parley's envelope signed with its key, or Twilio's form."""
    if row.callback_format == "twilio":
        if status == "submitting":
            return []
        params = ev.twilio_params(message_sid=message_sid(row.id), account_sid="", status=status, sender=row.sender,
                                  recipient=row.recipient, error_code=row.error_code)  # fmt: skip
        body = json.dumps(params, separators=(",", ":"))  # AccountSid is filled in when sent
        fmt = "twilio"
    else:
        body, fmt = ev.envelope(event_id, event.type, now, event.data), "parley"
    return [_row(event, event_id, body, now, url=row.status_callback, api_key_id=row.api_key_id, format=fmt)]
