"""The inbox's conversation list: one query per page, last message and unread count included.

Why one statement: the list is what agents look at all day, over thousands of conversations. The last
message and the unread count are correlated subqueries on ``messages`` by ``conversation_id`` (indexed),
evaluated only for the rows the LIMIT keeps; nothing is fetched per row afterwards (no N+1).
Pages are keyset: (updated_at, id) of the last row shown, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.membership import user_key
from parley.store.participants import seen_by
from parley.store.search import contains
from parley.store.tables import Record, conversations, messages, participants, service_members, services, users

MAX_PAGE = 100


@dataclass(frozen=True)
class InboxFilter:
    viewer_id: int
    see_all: bool = False  # admins: every conversation; others: those they are (or were) in
    mine: bool = False  # the viewer is an active participant
    assignee_id: int | None = None
    unassigned: bool = False
    service_id: int | None = None
    company_number: str | None = None
    unread_only: bool = False
    search: str | None = None  # part of the customer's number, the title, or a message's text
    after: tuple[datetime, str] | None = None  # keyset: (updated_at, id) of the previous page's last row
    limit: int = 50


async def list_page(conn: AsyncConnection, f: InboxFilter) -> list[Record]:
    """Up to ``f.limit`` conversations, newest activity first, each with ``last_text``, ``last_direction``,
    ``unread`` (inbound messages after the viewer's read marker), ``service`` and ``assignee``."""
    chosen = _chosen(f).subquery("chosen")
    member = user_key(f.viewer_id)
    conv = conversations.alias("c")
    reader = participants.alias("reader")
    assignee = users.alias("assignee")
    latest = messages.alias("latest")
    counted = messages.alias("counted")

    def seen(at: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        # A former participant sees the conversation as it was when he left (admins see everything).
        return sa.true() if f.see_all else seen_by(reader, at)

    def last(column: sa.ColumnElement[Any]) -> sa.ScalarSelect[Any]:
        return (
            sa.select(column)
            .where(latest.c.conversation_id == conv.c.id, seen(latest.c.created_at))
            .order_by(latest.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    unread = (
        sa.select(sa.func.count())
        .where(
            counted.c.conversation_id == conv.c.id,
            counted.c.direction == "in",
            sa.or_(reader.c.last_read_at.is_(None), counted.c.created_at > reader.c.last_read_at),
            seen(counted.c.created_at),
        )
        .scalar_subquery()
    )
    # The derived table is sorted and cut first, so the subqueries run for the page's rows only (SQLite
    # would otherwise compute every candidate row's select list before sorting).
    query = (
        sa.select(
            *conv.c,
            services.c.name.label("service"),
            assignee.c.extension.label("assignee"),
            last(latest.c.body).label("last_text"),
            last(latest.c.direction).label("last_direction"),
            sa.case((reader.c.user_id.is_(None), 0), else_=unread).label("unread"),
        )
        .select_from(chosen)
        .join(conv, conv.c.id == chosen.c.id)
        .outerjoin(reader, sa.and_(reader.c.conversation_id == conv.c.id, reader.c.member == member))
        .outerjoin(services, services.c.id == conv.c.service_id)
        .outerjoin(assignee, assignee.c.id == conv.c.assignee_id)
        .order_by(chosen.c.updated_at.desc(), chosen.c.id.desc())
    )
    return list((await conn.execute(query)).all())


def _chosen(f: InboxFilter) -> sa.Select[Any]:
    """The ids (and sort key) of the page's conversations: filters, keyset and LIMIT, nothing else."""
    me = participants.alias("me")
    unread_msg = messages.alias("unread_msg")
    found = messages.alias("found")
    # By the primary key (conversation, member): joining on user_id lets SQLite scan the viewer's rows per
    # conversation (measured: seconds for an admin over 10,000 conversations).
    joined = sa.and_(me.c.conversation_id == conversations.c.id, me.c.member == user_key(f.viewer_id))
    query = (
        sa.select(conversations.c.id, conversations.c.updated_at)
        .select_from(conversations)
        .join(me, joined, isouter=f.see_all)
    )
    if f.mine:
        query = query.where(me.c.active.is_(True))
    if f.assignee_id is not None:
        query = query.where(conversations.c.assignee_id == f.assignee_id)
    if f.unassigned:
        query = query.where(conversations.c.assignee_id.is_(None))
    if f.service_id is not None:
        query = query.where(conversations.c.service_id == f.service_id)
    if f.company_number:
        query = query.where(conversations.c.company_number == f.company_number)
    if f.unread_only:
        is_unread = sa.exists().where(
            unread_msg.c.conversation_id == conversations.c.id,
            unread_msg.c.direction == "in",
            sa.or_(me.c.last_read_at.is_(None), unread_msg.c.created_at > me.c.last_read_at),
        )
        query = query.where(me.c.user_id.is_not(None), is_unread)
    if f.search:
        in_text = sa.exists().where(
            found.c.conversation_id == conversations.c.id,
            contains(found.c.body, f.search),
            sa.true() if f.see_all else seen_by(me, found.c.created_at),
        )
        query = query.where(
            sa.or_(
                contains(conversations.c.external_number, f.search),
                contains(conversations.c.title, f.search),
                in_text,
            )
        )
    if f.after is not None:
        at, cid = f.after
        query = query.where(
            sa.or_(
                conversations.c.updated_at < at,
                sa.and_(conversations.c.updated_at == at, conversations.c.id < cid),
            )
        )
    limit = max(1, min(f.limit, MAX_PAGE))
    return query.order_by(conversations.c.updated_at.desc(), conversations.c.id.desc()).limit(limit)


async def list_sms_services(conn: AsyncConnection) -> list[Record]:
    """Services a conversation can be opened for (those with an SMS number), by name."""
    query = sa.select(services.c.id, services.c.name, services.c.sms_number).where(services.c.sms_number.is_not(None))
    return list((await conn.execute(query.order_by(services.c.name))).all())


async def list_company_numbers(conn: AsyncConnection, viewer_id: int | None) -> list[str]:
    """The company numbers of the viewer's conversations (all of them for ``None``)."""
    query = sa.select(conversations.c.company_number).distinct()
    if viewer_id is not None:
        query = query.join(
            participants,
            sa.and_(participants.c.conversation_id == conversations.c.id, participants.c.user_id == viewer_id),
        )
    return [r[0] for r in (await conn.execute(query.order_by(conversations.c.company_number))).all()]


async def list_service_users(conn: AsyncConnection, service_name: str) -> list[Record]:
    """The members of a service (extension, name), by extension: who a conversation can be assigned to."""
    query = (
        sa.select(users.c.extension, users.c.name)
        .join(service_members, service_members.c.user_id == users.c.id)
        .join(services, services.c.id == service_members.c.service_id)
        .where(services.c.name == service_name)
        .order_by(users.c.extension)
    )
    return list((await conn.execute(query)).all())


async def list_user_names(conn: AsyncConnection, extensions: list[str]) -> dict[str, str]:
    """Users' names by extension (for the members panel)."""
    if not extensions:
        return {}
    query = sa.select(users.c.extension, users.c.name).where(users.c.extension.in_(sorted(set(extensions))))
    return {r.extension: r.name for r in (await conn.execute(query)).all()}


async def list_users_by_id(conn: AsyncConnection, user_ids: list[int]) -> dict[int, Record]:
    """Users (extension, name) by id: timeline events name people as "u:<id>"."""
    if not user_ids:
        return {}
    query = sa.select(users.c.id, users.c.extension, users.c.name).where(users.c.id.in_(sorted(set(user_ids))))
    return {r.id: r for r in (await conn.execute(query)).all()}
