"""Tell a conversation's participants when one of its messages changes status (sent, delivered, failed)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from parley.services.events import Event, EventBus
from parley.store.db import Database
from parley.store.tables import messages, participants


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
