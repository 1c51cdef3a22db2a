"""What a write transaction changed that outbound webhooks must hear about (DESIGN "One event log").

The store functions that change messages, conversations and campaigns note the change on their connection; just
before the transaction commits, `Database.write` hands the notes to its hooks (`services.webhook_outbox`), which
write the deliveries in that same transaction. Nothing is announced that was not committed, and nothing committed
is lost. Without a hook nothing is noted (a dictionary lookup per call).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

_KEY = "parley_change_notes"


@dataclass
class Notes:
    created: list[Mapping[str, Any]] = field(default_factory=list)  # new message rows (full rows)
    statuses: list[tuple[str, str]] = field(default_factory=list)  # (message id, its new status), in order
    routed: list[str] = field(default_factory=list)  # inbound messages given their conversation
    seen: list[Any] = field(default_factory=list)  # message rows read in the transaction (what they hold is known)
    conversations: list[tuple[str, bool]] = field(default_factory=list)  # (conversation id, created)
    campaigns: list[str] = field(default_factory=list)  # campaigns that finished

    def __bool__(self) -> bool:
        return bool(self.created or self.statuses or self.routed or self.conversations or self.campaigns)


def begin(conn: AsyncConnection) -> None:
    conn.info[_KEY] = Notes()


def take(conn: AsyncConnection) -> Notes | None:
    found = conn.info.pop(_KEY, None)
    return found if isinstance(found, Notes) else None


def _notes(conn: AsyncConnection) -> Notes | None:
    found = conn.info.get(_KEY)
    return found if isinstance(found, Notes) else None


def created(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    notes = _notes(conn)
    if notes is not None:
        notes.created.extend(rows)


def statuses(conn: AsyncConnection, changes: Iterable[tuple[str, str]]) -> None:
    notes = _notes(conn)
    if notes is not None:
        notes.statuses.extend(changes)


def seen(conn: AsyncConnection, rows: Iterable[Any]) -> None:
    notes = _notes(conn)
    if notes is not None:
        notes.seen.extend(rows)


def routed(conn: AsyncConnection, message_ids: Iterable[str]) -> None:
    notes = _notes(conn)
    if notes is not None:
        notes.routed.extend(message_ids)


def conversations(conn: AsyncConnection, ids: Iterable[str], *, new: bool) -> None:
    notes = _notes(conn)
    if notes is not None:
        notes.conversations.extend((i, new) for i in ids)


def campaign_finished(conn: AsyncConnection, campaign_id: str) -> None:
    notes = _notes(conn)
    if notes is not None:
        notes.campaigns.append(campaign_id)
