"""Tell a conversation's participants when one of its messages changes status (sent, delivered, failed); put the
message itself into the `message.created` events they receive."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from parley.services.events import Event, EventBus
from parley.services.media import attachments_of
from parley.store import timeline as timeline_store
from parley.store.db import Database
from parley.store.tables import messages, participants


class MessageDetails:
    """The `EventBus` expansion: each `message.created` event gets ``message``, the message as the conversation's
    timeline (GET /api/v2/conversations/{id}/messages) lists it, so a client needs no request of its own. Its
    audience is the conversation's participants, who may read the whole timeline anyway."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def __call__(self, events: list[Event]) -> list[Event]:
        wanted = [e.data["message_id"] for e in events if e.type == "message.created" and "message" not in e.data]
        if not wanted:
            return events
        async with self._db.read() as conn:
            found = await timeline_store.timeline_messages(conn, wanted)
            rich = [m for m, row in found.items() if (row.channel or "sms") != "sms"]
            files = await attachments_of(conn, rich) if rich else {}
        return [
            dataclasses.replace(e, data={**e.data, "message": _with_media(found[e.data["message_id"]], files)})
            if e.type == "message.created" and e.data.get("message_id") in found
            else e
            for e in events
        ]


def _with_media(row: Any, files: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    message = dict(row._mapping)
    if row.id in files:
        message["media"] = files[row.id]
    return message


class StatusNotifier:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self._db = db
        self._bus = bus

    async def changed(self, changes: Sequence[tuple[str, str]]) -> None:
        """``changes``: (message id, new status). Messages outside conversations are ignored."""
        if not changes:
            return
        status = dict(changes)
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(messages.c.id, messages.c.conversation_id).where(
                        messages.c.id.in_(list(status)), messages.c.conversation_id.is_not(None)
                    )
                )
            ).all()
            if not rows:
                return
            conversation_ids = {r.conversation_id for r in rows}
            members = (
                await conn.execute(
                    sa.select(participants.c.conversation_id, participants.c.user_id).where(
                        participants.c.conversation_id.in_(conversation_ids),
                        participants.c.active.is_(True),
                        participants.c.user_id.is_not(None),
                    )
                )
            ).all()
        audience: dict[str, set[int]] = {}
        for m in members:
            audience.setdefault(m.conversation_id, set()).add(m.user_id)
        await self._bus.publish(
            [
                Event(
                    "message.status",
                    {"conversation_id": r.conversation_id, "message_id": r.id, "status": status[r.id]},
                    frozenset(audience.get(r.conversation_id, ())),
                )
                for r in rows
            ]
        )
