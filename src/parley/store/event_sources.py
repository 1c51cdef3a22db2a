"""What outbound webhook events are made of (`services.webhook_outbox`): the messages and conversations a
transaction changed, read inside it, a few statements whatever their number."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.one_of import one_of
from parley.store.tables import Record, messages, participants, users


async def messages_for_events(conn: AsyncConnection, message_ids: Sequence[str]) -> dict[str, Record]:
    """Messages as the API shows them (with their user's extension), by id."""
    if not message_ids:
        return {}
    found: dict[str, Record] = {}
    for chunk in _chunks(message_ids):
        query = (
            sa.select(*messages.c, users.c.extension.label("user"))
            .outerjoin(users, users.c.id == messages.c.user_id)
            .where(one_of(conn, messages.c.id, chunk))
        )
        found.update((r.id, r) for r in (await conn.execute(query)).all())
    return found


async def with_callbacks(conn: AsyncConnection, message_ids: Sequence[str]) -> dict[str, Record]:
    """Those of the messages that have a status callback (one primary-key lookup), by id."""
    if not message_ids:
        return {}
    found: dict[str, Record] = {}
    for chunk in _chunks(message_ids):
        query = sa.select(*messages.c).where(
            one_of(conn, messages.c.id, chunk), messages.c.status_callback.is_not(None)
        )
        found.update((r.id, r) for r in (await conn.execute(query)).all())
    return found


def _chunks(ids: Sequence[str], size: int = 1000) -> list[list[str]]:
    """Distinct ids in lists short enough for any database's limit on bound parameters."""
    unique = list(dict.fromkeys(ids))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


async def audience_of_conversations(conn: AsyncConnection, conversation_ids: Sequence[str]) -> dict[str, set[int]]:
    """The users now in each conversation (they may see its events)."""
    found: dict[str, set[int]] = {c: set() for c in conversation_ids}
    if not conversation_ids:
        return found
    query = sa.select(participants.c.conversation_id, participants.c.user_id).where(
        participants.c.conversation_id.in_(list(conversation_ids)),
        participants.c.user_id.is_not(None),
        participants.c.active.is_(True),
    )
    for row in (await conn.execute(query)).all():
        found[row.conversation_id].add(int(row.user_id))
    return found
