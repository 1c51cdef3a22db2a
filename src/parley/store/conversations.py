"""Conversations, their participants, timeline events, blocks and opt-outs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store import change_notes
from parley.store.tables import (
    Record,
    blocks,
    calls,
    conversation_events,
    conversations,
    messages,
    optouts,
    participants,
    services,
    users,
)


def thread_key(company_number: str, external_number: str, service_id: int | None) -> str:
    return f"{company_number}|{external_number}|{service_id if service_id is not None else '-'}"


@dataclass(frozen=True)
class ConversationFilter:
    user_id: int | None = None  # only conversations this user is (or was) in; None: all (admins)
    service_id: int | None = None
    company_number: str | None = None
    external_number: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    unrouted: bool | None = None
    before: datetime | None = None
    limit: int = 50


def _with_names() -> sa.Select[Any]:
    assignee = users.alias("assignee")
    return (
        sa.select(
            *conversations.c,
            services.c.name.label("service"),
            assignee.c.extension.label("assignee"),
        )
        .outerjoin(services, services.c.id == conversations.c.service_id)
        .outerjoin(assignee, assignee.c.id == conversations.c.assignee_id)
    )


async def find(conn: AsyncConnection, conversation_id: str) -> Record | None:
    return (await conn.execute(_with_names().where(conversations.c.id == conversation_id))).first()


async def find_by_thread(conn: AsyncConnection, key: str) -> Record | None:
    return (await conn.execute(_with_names().where(conversations.c.thread_key == key))).first()


async def list_by_threads(conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Record]:
    """The conversations with these thread keys, by key (one query for a batch of inbound messages)."""
    if not keys:
        return {}
    query = sa.select(conversations).where(conversations.c.thread_key.in_(sorted(set(keys))))
    return {r.thread_key: r for r in (await conn.execute(query)).all()}


async def add(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(conversations.insert().values(**row))
    change_notes.conversations(conn, [row["id"]], new=True)


async def add_many(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert conversations (each row with the same keys)."""
    if rows:
        await conn.execute(conversations.insert(), list(rows))
        change_notes.conversations(conn, [r["id"] for r in rows], new=True)


async def update_many(conn: AsyncConnection, changes: Sequence[dict[str, Any]]) -> None:
    """Update conversations by ``id``; rows with the same keys go in one executemany."""
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in changes:
        by_shape.setdefault(tuple(sorted(k for k in change if k != "id")), []).append(change)
    for keys, group in by_shape.items():
        statement = (
            conversations.update()
            .where(conversations.c.id == sa.bindparam("b_id"))
            .values(**{k: sa.bindparam(f"b_{k}") for k in keys})
        )
        await conn.execute(statement, [{f"b_{k}": v for k, v in c.items()} for c in group])
    change_notes.conversations(conn, [c["id"] for c in changes], new=False)


async def update(conn: AsyncConnection, conversation_id: str, **values: Any) -> None:
    await conn.execute(conversations.update().where(conversations.c.id == conversation_id).values(**values))
    change_notes.conversations(conn, [conversation_id], new=False)


async def list_(conn: AsyncConnection, f: ConversationFilter) -> list[Record]:
    query = _with_names()
    if f.user_id is not None:
        mine = sa.select(participants.c.conversation_id).where(participants.c.user_id == f.user_id)
        query = query.where(conversations.c.id.in_(mine))
    if f.service_id is not None:
        query = query.where(conversations.c.service_id == f.service_id)
    if f.company_number:
        query = query.where(conversations.c.company_number == f.company_number)
    if f.external_number:
        query = query.where(conversations.c.external_number == f.external_number)
    if f.assignee_id is not None:
        query = query.where(conversations.c.assignee_id == f.assignee_id)
    if f.unassigned:
        query = query.where(conversations.c.assignee_id.is_(None))
    if f.unrouted is not None:
        query = query.where(conversations.c.unrouted == f.unrouted)
    if f.before is not None:
        query = query.where(conversations.c.updated_at < f.before)
    query = query.order_by(conversations.c.updated_at.desc(), conversations.c.id.desc()).limit(f.limit)
    return list((await conn.execute(query)).all())


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


async def add_events(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(conversation_events.insert(), list(rows))


async def events(
    conn: AsyncConnection,
    conversation_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    upto: datetime | None = None,
) -> list[Record]:
    """The timeline's system events, oldest first; ``since`` (inclusive) and ``until`` (exclusive) bound a page,
    ``upto`` (inclusive) what a former participant still sees."""
    query = sa.select(conversation_events).where(conversation_events.c.conversation_id == conversation_id)
    if since is not None:
        query = query.where(conversation_events.c.at >= since)
    if until is not None:
        query = query.where(conversation_events.c.at < until)
    if upto is not None:
        query = query.where(conversation_events.c.at <= upto)
    return list((await conn.execute(query.order_by(conversation_events.c.id))).all())


async def calls_of(
    conn: AsyncConnection,
    conversation_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    upto: datetime | None = None,
) -> list[Record]:
    """The calls linked to a conversation, oldest first, bounded like `events`."""
    query = sa.select(calls).where(calls.c.conversation_id == conversation_id)
    if since is not None:
        query = query.where(calls.c.started_at >= since)
    if until is not None:
        query = query.where(calls.c.started_at < until)
    if upto is not None:
        query = query.where(calls.c.started_at <= upto)
    return list((await conn.execute(query.order_by(calls.c.started_at))).all())


async def conversation_messages(
    conn: AsyncConnection,
    conversation_id: str,
    *,
    limit: int = 100,
    before_id: str | None = None,
    include_blocked: bool = False,
    upto: datetime | None = None,
) -> list[Record]:
    """The newest ``limit`` messages (before ``before_id``; created at or before ``upto``), oldest first; a blocked
    customer's only when asked."""
    query = _messages_with_sender().where(messages.c.conversation_id == conversation_id)
    if not include_blocked:
        query = query.where(messages.c.status != "blocked")
    if before_id:
        query = query.where(messages.c.id < before_id)
    if upto is not None:
        query = query.where(messages.c.created_at <= upto)
    rows = (await conn.execute(query.order_by(messages.c.id.desc()).limit(limit))).all()
    return list(reversed(rows))


def _messages_with_sender() -> sa.Select[Any]:
    """Messages as a timeline shows them: every column, and the extension of the user who sent it (``user``)."""
    return sa.select(*messages.c, users.c.extension.label("user")).outerjoin(users, users.c.id == messages.c.user_id)


async def timeline_messages(conn: AsyncConnection, message_ids: Sequence[str]) -> dict[str, Record]:
    """The messages with these ids, by id, in the timeline's shape (`conversation_messages`)."""
    if not message_ids:
        return {}
    rows = (await conn.execute(_messages_with_sender().where(messages.c.id.in_(list(message_ids))))).all()
    return {r.id: r for r in rows}


async def conversation_message(conn: AsyncConnection, conversation_id: str, message_id: str) -> Record | None:
    query = sa.select(messages.c.id, messages.c.created_at).where(
        messages.c.conversation_id == conversation_id, messages.c.id == message_id
    )
    return (await conn.execute(query)).first()


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


async def is_blocked(conn: AsyncConnection, company_number: str, external_number: str) -> bool:
    query = sa.select(blocks.c.created_at).where(
        blocks.c.company_number == company_number, blocks.c.external_number == external_number
    )
    return (await conn.execute(query)).first() is not None


async def blocked_among(conn: AsyncConnection, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (company number, customer number) pairs are blocked (one query for a batch)."""
    if not pairs:
        return set()
    query = sa.select(blocks.c.company_number, blocks.c.external_number).where(
        blocks.c.company_number.in_(sorted({p[0] for p in pairs})),
        blocks.c.external_number.in_(sorted({p[1] for p in pairs})),
    )
    wanted = set(pairs)
    return {(r[0], r[1]) for r in (await conn.execute(query)).all() if (r[0], r[1]) in wanted}


async def block(
    conn: AsyncConnection, company_number: str, external_number: str, by: int | None, now: datetime
) -> bool:
    if await is_blocked(conn, company_number, external_number):
        return False
    await conn.execute(
        blocks.insert().values(
            company_number=company_number, external_number=external_number, created_by=by, created_at=now
        )
    )
    return True


async def unblock(conn: AsyncConnection, company_number: str, external_number: str) -> bool:
    result = await conn.execute(
        blocks.delete().where(blocks.c.company_number == company_number, blocks.c.external_number == external_number)
    )
    return bool(result.rowcount)


async def list_blocks(conn: AsyncConnection) -> list[Record]:
    query = (
        sa.select(*blocks.c, users.c.extension.label("blocked_by"))
        .outerjoin(users, users.c.id == blocks.c.created_by)
        .order_by(blocks.c.created_at.desc())
    )
    return list((await conn.execute(query)).all())


async def set_optout(
    conn: AsyncConnection, company_number: str, external_number: str, *, opted_out: bool, keyword: str, now: datetime
) -> None:
    key = (optouts.c.company_number == company_number, optouts.c.external_number == external_number)
    result = await conn.execute(optouts.update().where(*key).values(opted_out=opted_out, keyword=keyword, at=now))
    if not result.rowcount:
        await conn.execute(
            optouts.insert().values(
                company_number=company_number,
                external_number=external_number,
                opted_out=opted_out,
                keyword=keyword,
                at=now,
            )
        )


async def find_optout(conn: AsyncConnection, company_number: str, external_number: str) -> Record | None:
    query = sa.select(optouts).where(
        optouts.c.company_number == company_number, optouts.c.external_number == external_number
    )
    return (await conn.execute(query)).first()
