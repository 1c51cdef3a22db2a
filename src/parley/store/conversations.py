"""Conversations: their thread keys, finding, listing, opening and updating them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store import change_notes
from parley.store.tables import Record, conversations, participants, services, users


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
