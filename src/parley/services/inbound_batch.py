"""One batch of inbound messages being routed: what it reads, looked up once; what it writes, written once.

Routing a message one transaction at a time took 12–19 statements (docs/benchmarks.md, finding 11). A batch
reads the conversations, blocks and participants of all its messages in three queries, keeps them in memory
while `InboundRouter` routes the messages one after another (so the second message of a new customer finds
the conversation the first one opened, and a member who joined for the first is present for the second),
and writes the outcome set-wise in `flush`, parents before children (conversations, then messages,
participants, timeline, timers and bot replies).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.actions import ConversationState
from parley.core.membership import Presence
from parley.services import conversation_support as support
from parley.services.send import enqueue_rows
from parley.store import blocks as block_store
from parley.store import conversations as store
from parley.store import messages
from parley.store import participants as participant_store
from parley.store import timeline as timeline_store
from parley.store.ids import new_id
from parley.store.tables import timers

# The conversation columns routing changes; `flush` writes only those a message actually touched.
_TRACKED = (
    "last_message_at", "last_inbound_at", "last_reply_at", "updated_at", "unrouted", "whatsapp_last_inbound_at",
    "last_channel",
)  # fmt: skip


@dataclass
class Thread:
    """A conversation as this batch sees it: loaded (or opened here), with the changes made so far."""

    id: str
    opened: bool
    row: dict[str, Any]  # every column (for an opened one: the row to insert)
    presence: dict[str, Presence]
    changed: set[str] = field(default_factory=set)

    # `support.state_of` reads these attributes (timed actions look at the conversation as routing left it).
    @property
    def last_inbound_at(self) -> datetime | None:
        return self.row.get("last_inbound_at")

    @property
    def last_reply_at(self) -> datetime | None:
        return self.row.get("last_reply_at")

    @property
    def last_message_at(self) -> datetime | None:
        return self.row.get("last_message_at")


class RoutingBatch:
    def __init__(self, threads: dict[str, Thread], blocked: set[tuple[str, str]], now: datetime) -> None:
        self.now = now
        self._threads = threads
        self._blocked = blocked
        self._messages: list[dict[str, Any]] = []
        self._joins: list[dict[str, Any]] = []
        self._rejoins: list[tuple[str, str]] = []
        self._timeline: list[dict[str, Any]] = []
        self._timers: list[dict[str, Any]] = []
        self._replies: list[dict[str, Any]] = []
        self._bot_answered: set[tuple[str, str]] = set()
        self._states: dict[str, tuple[datetime | None, frozenset[str]]] = {}

    @classmethod
    async def load(
        cls, conn: AsyncConnection, keys: Sequence[str], pairs: Sequence[tuple[str, str]], now: datetime
    ) -> RoutingBatch:
        """Read the batch's conversations (by thread key), their participants and the blocked pairs."""
        found = await store.list_by_threads(conn, keys)
        present = await participant_store.presence_of(conn, [r.id for r in found.values()])
        threads = {
            key: Thread(
                id=r.id,
                opened=False,
                row=dict(r._mapping),
                presence={p.member: Presence(p.active, p.removed_by_agent) for p in present[r.id]},
            )
            for key, r in found.items()
        }
        return cls(threads, await block_store.blocked_among(conn, pairs), now)

    def thread(self, company: str, customer: str, service_id: int | None) -> tuple[Thread, bool]:
        """The conversation for (company number, customer, service), and whether it was opened (in memory) now."""
        key = store.thread_key(company, customer, service_id)
        found = self._threads.get(key)
        if found is not None:
            return found, False
        cid = new_id()
        row: dict[str, Any] = {
            "id": cid, "thread_key": key, "company_number": company, "external_number": customer,
            "service_id": service_id, "title": customer, "assignee_id": None, "unrouted": False,
            "created_at": self.now, "updated_at": self.now, "last_message_at": None, "last_inbound_at": None,
            "last_reply_at": None, "whatsapp_last_inbound_at": None, "last_channel": None,
        }  # fmt: skip
        opened = self._threads[key] = Thread(id=cid, opened=True, row=row, presence={})
        return opened, True

    def is_blocked(self, company: str, customer: str) -> bool:
        return (company, customer) in self._blocked

    def update_message(self, message_id: str, **values: Any) -> None:
        self._messages.append({"id": message_id, **values})

    def put_member(self, thread: Thread, member: str, *, user_id: int | None, bot: str | None) -> bool:
        """Add a participant or bring one back; True when something changed (as `participant_store.put_member`)."""
        existing = thread.presence.get(member)
        if existing is not None and existing.active:
            return False
        if existing is None:
            self._joins.append(
                {"conversation_id": thread.id, "member": member, "user_id": user_id, "bot": bot, "joined_at": self.now}
            )
        else:
            self._rejoins.append((thread.id, member))
        thread.presence[member] = Presence(True, False)
        return True

    def touch(self, thread: Thread, **values: Any) -> None:
        thread.row.update(values)
        thread.changed.update(values)

    def add_timeline(self, rows: Sequence[dict[str, Any]]) -> None:
        self._timeline.extend(rows)

    def bot_answered(self, thread: Thread, bot: str) -> bool:
        """Whether ``bot`` already answered in this conversation in this batch (not yet visible in the table)."""
        return (thread.id, bot) in self._bot_answered

    def add_replies(self, thread: Thread, rows: Sequence[dict[str, Any]]) -> None:
        self._replies.extend(rows)
        self._bot_answered.update((thread.id, r["bot"]) for r in rows)

    async def state(self, conn: AsyncConnection, thread: Thread) -> ConversationState:
        """What timed actions look at, with the changes routing made so far in this batch."""
        cached = self._states.get(thread.id)
        if cached is None:
            loaded = await support.state_of(conn, thread)
            cached = self._states[thread.id] = (loaded.last_read_at, loaded.fired)
        return ConversationState(
            last_inbound_at=thread.last_inbound_at,
            last_reply_at=thread.last_reply_at,
            last_read_at=cached[0],
            last_activity_at=thread.last_message_at,
            fired=cached[1],
        )

    def add_timers(self, rows: Sequence[dict[str, Any]]) -> None:
        self._timers.extend(rows)

    @property
    def replied(self) -> bool:
        return bool(self._replies)

    async def flush(self, conn: AsyncConnection) -> None:
        """Write everything, parents first (foreign keys are checked statement by statement on PostgreSQL)."""
        threads = sorted(self._threads.values(), key=lambda t: t.id)  # one lock order for every router
        await store.add_many(conn, [t.row for t in threads if t.opened])
        await store.update_many(
            conn,
            [
                {"id": t.id, **{k: t.row[k] for k in _TRACKED if k in t.changed}}
                for t in threads
                if not t.opened and t.changed
            ],
        )
        await messages.update_many(conn, self._messages)
        await participant_store.add_members(conn, self._joins)
        await participant_store.rejoin_members(conn, self._rejoins, now=self.now)
        await timeline_store.add_events(conn, self._timeline)
        if self._timers:
            await conn.execute(timers.insert(), self._timers)
        if self._replies:
            await enqueue_rows(conn, self._replies, self.now)
