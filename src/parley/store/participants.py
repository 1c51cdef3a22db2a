"""A conversation's participants: who is in it, joining, leaving and coming back, and what each has read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.tables import Record, messages, participants, users


async def members(conn: AsyncConnection, conversation_id: str) -> list[Record]:
    query = (
        sa.select(*participants.c, users.c.extension, users.c.name.label("user_name"))
        .outerjoin(users, users.c.id == participants.c.user_id)
        .where(participants.c.conversation_id == conversation_id)
        .order_by(participants.c.joined_at, participants.c.member)
    )
    return list((await conn.execute(query)).all())


async def members_of(conn: AsyncConnection, conversation_ids: Sequence[str]) -> dict[str, list[Record]]:
    query = (
        sa.select(*participants.c, users.c.extension)
        .outerjoin(users, users.c.id == participants.c.user_id)
        .where(participants.c.conversation_id.in_(list(conversation_ids)))
        .order_by(participants.c.joined_at, participants.c.member)
    )
    found: dict[str, list[Record]] = {cid: [] for cid in conversation_ids}
    for row in (await conn.execute(query)).all():
        found[row.conversation_id].append(row)
    return found


async def presence_of(conn: AsyncConnection, conversation_ids: Sequence[str]) -> dict[str, list[Record]]:
    """Participants (member, active, removed_by_agent) of several conversations, by conversation id."""
    found: dict[str, list[Record]] = {cid: [] for cid in conversation_ids}
    if not found:
        return found
    query = sa.select(
        participants.c.conversation_id, participants.c.member, participants.c.active, participants.c.removed_by_agent
    ).where(participants.c.conversation_id.in_(sorted(found)))
    for row in (await conn.execute(query)).all():
        found[row.conversation_id].append(row)
    return found


async def add_members(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert participants: ``conversation_id``, ``member``, ``user_id``, ``bot``, ``joined_at`` (active)."""
    if rows:
        await conn.execute(participants.insert(), [{**r, "active": True, "removed_by_agent": False} for r in rows])


async def rejoin_members(conn: AsyncConnection, keys: Sequence[tuple[str, str]], *, now: datetime) -> None:
    """Bring back participants who had left, by (conversation id, member)."""
    if keys:
        await conn.execute(
            participants.update()
            .where(
                participants.c.conversation_id == sa.bindparam("b_cid"),
                participants.c.member == sa.bindparam("b_member"),
            )
            .values(active=True, removed_by_agent=False, joined_at=now, left_at=None),
            [{"b_cid": cid, "b_member": member} for cid, member in keys],
        )


async def put_member(
    conn: AsyncConnection, conversation_id: str, member: str, *, user_id: int | None, bot: str | None, now: datetime
) -> bool:
    """Add a participant or bring one back; True when something changed."""
    existing = (
        await conn.execute(
            sa.select(participants.c.active).where(
                participants.c.conversation_id == conversation_id, participants.c.member == member
            )
        )
    ).first()
    if existing is None:
        await conn.execute(
            participants.insert().values(
                conversation_id=conversation_id,
                member=member,
                user_id=user_id,
                bot=bot,
                active=True,
                removed_by_agent=False,
                joined_at=now,
            )
        )
        return True
    if existing.active:
        return False
    await conn.execute(
        participants.update()
        .where(participants.c.conversation_id == conversation_id, participants.c.member == member)
        .values(active=True, removed_by_agent=False, joined_at=now, left_at=None)
    )
    return True


async def drop_member(
    conn: AsyncConnection, conversation_id: str, member: str, *, now: datetime, by_agent: bool
) -> bool:
    result = await conn.execute(
        participants.update()
        .where(
            participants.c.conversation_id == conversation_id,
            participants.c.member == member,
            participants.c.active.is_(True),
        )
        .values(active=False, left_at=now, removed_by_agent=by_agent)
    )
    return bool(result.rowcount)


async def mark_read(conn: AsyncConnection, conversation_id: str, member: str, at: datetime) -> None:
    await conn.execute(
        participants.update()
        .where(participants.c.conversation_id == conversation_id, participants.c.member == member)
        .values(last_read_at=at)
    )


def seen_by(participant: sa.FromClause, at: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """Whether a participant (a row of ``participants``, or an alias) saw what happened ``at``: a former one sees
    nothing after he left."""
    return sa.or_(participant.c.active.is_(True), participant.c.left_at.is_(None), at <= participant.c.left_at)


async def unread_counts(conn: AsyncConnection, user_id: int, conversation_ids: Sequence[str]) -> dict[str, int]:
    """Inbound messages newer than the user's read marker, per conversation."""
    if not conversation_ids:
        return {}
    query = (
        sa.select(messages.c.conversation_id, sa.func.count())
        .join(
            participants,
            sa.and_(
                participants.c.conversation_id == messages.c.conversation_id,
                participants.c.user_id == user_id,
            ),
        )
        .where(
            messages.c.conversation_id.in_(list(conversation_ids)),
            messages.c.direction == "in",
            messages.c.status != "blocked",  # kept, but never shown: nothing to read
            sa.or_(participants.c.last_read_at.is_(None), messages.c.created_at > participants.c.last_read_at),
            seen_by(participants, messages.c.created_at),
        )
        .group_by(messages.c.conversation_id)
    )
    return {r[0]: int(r[1]) for r in (await conn.execute(query)).all()}
