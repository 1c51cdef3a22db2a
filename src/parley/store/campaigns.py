"""Campaigns, their recipients (one row per number: never sent twice) and their load problems."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store import change_notes
from parley.store.bulk import insert_rows
from parley.store.statistics import reported_status
from parley.store.tables import (
    Record,
    campaign_problems,
    campaign_recipients,
    campaigns,
    jobs,
    list_entries,
    lists,
    users,
)
from parley.store.tables import messages as messages_table

IN_FLIGHT = ("scheduled", "queued", "sending", "submitting")
FINISHED = ("completed",)  # a campaign reaching one of these announces campaign.finished (webhooks); stopped may resume


def _with_names() -> sa.Select[Any]:
    owner, rating = users.alias("owner"), users.alias("rating")
    return (
        sa.select(
            *campaigns.c,
            owner.c.extension.label("owner"),
            rating.c.extension.label("rating_extension"),
            lists.c.name.label("list_name"),
        )
        .outerjoin(owner, owner.c.id == campaigns.c.owner_id)
        .outerjoin(rating, rating.c.id == campaigns.c.rating_user_id)
        .outerjoin(lists, lists.c.id == campaigns.c.list_id)
    )


async def add(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(campaigns.insert().values(**row))


async def find(conn: AsyncConnection, campaign_id: str) -> Record | None:
    return (await conn.execute(_with_names().where(campaigns.c.id == campaign_id))).first()


async def list_(
    conn: AsyncConnection, *, status: str | None, owner_id: int | None, limit: int, offset: int = 0
) -> list[Record]:
    query = _with_names()
    if status:
        query = query.where(campaigns.c.status == status)
    if owner_id is not None:
        query = query.where(campaigns.c.owner_id == owner_id)
    query = query.order_by(campaigns.c.created_at.desc(), campaigns.c.id.desc()).offset(offset).limit(limit)
    return list((await conn.execute(query)).all())


async def with_status(conn: AsyncConnection, statuses: Sequence[str]) -> list[Record]:
    query = sa.select(campaigns).where(campaigns.c.status.in_(list(statuses))).order_by(campaigns.c.started_at)
    return list((await conn.execute(query)).all())


async def update(conn: AsyncConnection, campaign_id: str, **values: Any) -> None:
    await conn.execute(campaigns.update().where(campaigns.c.id == campaign_id).values(**values))
    if values.get("status") in FINISHED:
        change_notes.campaign_finished(conn, campaign_id)


async def add_recipients(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert recipients, skipping numbers the campaign already has; returns how many were new."""
    if not rows:
        return 0
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(campaign_recipients)
        .on_conflict_do_nothing(index_elements=[campaign_recipients.c.campaign_id, campaign_recipients.c.number])
        .returning(campaign_recipients.c.number)
    )
    return len((await conn.execute(statement, list(rows))).all())


async def last_problem_id(conn: AsyncConnection, campaign_id: str) -> int:
    query = sa.select(sa.func.max(campaign_problems.c.id)).where(campaign_problems.c.campaign_id == campaign_id)
    return int(await conn.scalar(query) or 0)


async def commit_staged(conn: AsyncConnection, campaign_id: str) -> None:
    """The rows of an upload that was read to its end become pending recipients."""
    await conn.execute(
        campaign_recipients.update()
        .where(campaign_recipients.c.campaign_id == campaign_id, campaign_recipients.c.state == "staged")
        .values(state="pending")
    )


async def discard_staged(conn: AsyncConnection, campaign_id: str, *, problems_after: int) -> None:
    """Undo an upload that failed half-way: its staged rows and the problems it recorded."""
    await conn.execute(
        campaign_recipients.delete().where(
            campaign_recipients.c.campaign_id == campaign_id, campaign_recipients.c.state == "staged"
        )
    )
    await conn.execute(
        campaign_problems.delete().where(
            campaign_problems.c.campaign_id == campaign_id, campaign_problems.c.id > problems_after
        )
    )


async def recipient_count(conn: AsyncConnection, campaign_id: str) -> int:
    query = sa.select(sa.func.count()).where(
        campaign_recipients.c.campaign_id == campaign_id, campaign_recipients.c.state != "staged"
    )
    return int(await conn.scalar(query) or 0)


async def copy_from_list(conn: AsyncConnection, campaign_id: str, list_id: int) -> int:
    """Every entry of a saved list becomes a pending recipient (one statement, however long the list)."""
    select = sa.select(
        sa.literal(campaign_id),
        list_entries.c.number,
        list_entries.c.fields,
        sa.literal("pending"),
    ).where(list_entries.c.list_id == list_id)
    await conn.execute(campaign_recipients.insert().from_select(["campaign_id", "number", "fields", "state"], select))
    return await recipient_count(conn, campaign_id)


async def add_problems(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    await insert_rows(conn, campaign_problems, rows)


async def problems(conn: AsyncConnection, campaign_id: str, limit: int = 1000) -> list[Record]:
    query = (
        sa.select(campaign_problems.c.line, campaign_problems.c.reason)
        .where(campaign_problems.c.campaign_id == campaign_id)
        .order_by(campaign_problems.c.line)
        .limit(limit)
    )
    return list((await conn.execute(query)).all())


async def take_pending(conn: AsyncConnection, campaign_id: str, *, now: datetime, limit: int) -> list[Record]:
    """Pending recipients whose sending hours have come, locked against other runners (PostgreSQL)."""
    query = (
        sa.select(campaign_recipients)
        .where(
            campaign_recipients.c.campaign_id == campaign_id,
            campaign_recipients.c.state == "pending",
            sa.or_(campaign_recipients.c.not_before.is_(None), campaign_recipients.c.not_before <= now),
        )
        .order_by(campaign_recipients.c.number)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list((await conn.execute(query)).all())


async def set_recipients(conn: AsyncConnection, campaign_id: str, changes: Sequence[dict[str, Any]]) -> None:
    """Each change: number, state, and optionally message_id, reason, not_before."""
    keys = ("state", "message_id", "reason", "not_before")
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in changes:
        by_shape.setdefault(tuple(k for k in keys if k in change), []).append(change)
    for shape, group in by_shape.items():
        await conn.execute(
            campaign_recipients.update()
            .where(
                campaign_recipients.c.campaign_id == campaign_id,
                campaign_recipients.c.number == sa.bindparam("b_number"),
            )
            .values(**{k: sa.bindparam(f"b_{k}") for k in shape}),
            [{"b_number": c["number"], **{f"b_{k}": c[k] for k in shape}} for c in group],
        )


async def in_flight(conn: AsyncConnection, campaign_id: str) -> int:
    query = sa.select(sa.func.count()).where(
        messages_table.c.campaign_id == campaign_id, messages_table.c.status.in_(IN_FLIGHT)
    )
    return int(await conn.scalar(query) or 0)


async def counts(conn: AsyncConnection, campaign_id: str) -> dict[str, int]:
    """Recipients by state, and their messages by status."""
    found: dict[str, int] = {}
    states = sa.select(campaign_recipients.c.state, sa.func.count()).where(
        campaign_recipients.c.campaign_id == campaign_id
    )
    for state, n in (await conn.execute(states.group_by(campaign_recipients.c.state))).all():
        found[f"recipients.{state}"] = int(n)
    reported = reported_status()  # "delivered (assumed)" apart from confirmed deliveries (issue 14 §5)
    statuses = sa.select(reported, sa.func.count()).where(messages_table.c.campaign_id == campaign_id)
    for status, n in (await conn.execute(statuses.group_by(reported))).all():
        found[f"messages.{status}"] = int(n)
    return found


async def withdraw(conn: AsyncConnection, campaign_id: str, *, now: datetime) -> int:
    """Take back queued messages no worker has touched: cancelled, and their recipients pending again.

    A job any worker has claimed (attempts > 0) stays: its message may be on its way, and the
    dispatcher's journal decides. PostgreSQL skips rows a dispatcher is claiming right now.
    """
    query = (
        sa.select(jobs.c.message_id)
        .join(messages_table, messages_table.c.id == jobs.c.message_id)
        .where(messages_table.c.campaign_id == campaign_id, jobs.c.attempts == 0, jobs.c.lease_until.is_(None))
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=jobs, skip_locked=True)
    ids = list((await conn.execute(query)).scalars())
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        await conn.execute(jobs.delete().where(jobs.c.message_id.in_(chunk)))
        await conn.execute(
            messages_table.update().where(messages_table.c.id.in_(chunk)).values(status="cancelled", updated_at=now)
        )
        change_notes.statuses(conn, ((m, "cancelled") for m in chunk))
        await conn.execute(
            campaign_recipients.update()
            .where(campaign_recipients.c.campaign_id == campaign_id, campaign_recipients.c.message_id.in_(chunk))
            .values(state="pending", message_id=None)
        )
    return len(ids)


@dataclass(frozen=True)
class RecipientRow:
    number: str
    state: str
    status: str | None
    reason: str | None
    line: int | None


async def recipients_page(
    conn: AsyncConnection, campaign_id: str, *, after: str | None, limit: int
) -> list[RecipientRow]:
    query = (
        sa.select(
            campaign_recipients.c.number,
            campaign_recipients.c.state,
            messages_table.c.status,
            sa.func.coalesce(campaign_recipients.c.reason, messages_table.c.error).label("reason"),
            campaign_recipients.c.line,
        )
        .outerjoin(messages_table, messages_table.c.id == campaign_recipients.c.message_id)
        .where(campaign_recipients.c.campaign_id == campaign_id)
    )
    if after:
        query = query.where(campaign_recipients.c.number > after)
    rows = (await conn.execute(query.order_by(campaign_recipients.c.number).limit(limit))).all()
    return [RecipientRow(r.number, r.state, r.status, r.reason, r.line) for r in rows]


# --- WhatsApp campaigns: what pacing reads (issue 12 §8) ----------------------------------------------------------


async def lock_sender(conn: AsyncConnection, sender: str) -> None:
    """Serialise the runners pacing one company number until the transaction ends (PostgreSQL; SQLite has one
    writer): each reads the number's queued tail only after the previous one's messages are committed."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"whatsapp-pacing:{sender}"))))


async def whatsapp_tail(conn: AsyncConnection, sender: str) -> datetime | None:
    """The latest due time of the WhatsApp messages from ``sender`` queued and not yet tried (None: none).

    A retry is left out: its backoff (an hour, for a customer Meta cannot reach) is no part of the number's pace,
    and counting it would hold every campaign on the number until then."""
    query = (
        sa.select(sa.func.max(jobs.c.due_at))
        .join(messages_table, messages_table.c.id == jobs.c.message_id)
        .where(
            jobs.c.kind == "send",
            jobs.c.attempts == 0,
            messages_table.c.sender == sender,
            messages_table.c.channel == "whatsapp",
        )
    )
    found: datetime | None = await conn.scalar(query)
    return found


async def last_whatsapp_to(
    conn: AsyncConnection, sender: str, recipients: Sequence[str], *, now: datetime, since: datetime
) -> dict[str, datetime]:
    """Per customer, when the last WhatsApp message from ``sender`` goes or went: a queued one's due time (now,
    if that has passed), else when it last changed (at or after it was handed over) if that is after ``since``."""
    found: dict[str, datetime] = {}
    for start in range(0, len(recipients), 500):
        query = (
            sa.select(messages_table.c.recipient, jobs.c.due_at, messages_table.c.updated_at)
            .outerjoin(jobs, jobs.c.message_id == messages_table.c.id)
            .where(
                messages_table.c.recipient.in_(list(recipients[start : start + 500])),
                messages_table.c.sender == sender,
                messages_table.c.direction == "out",
                messages_table.c.channel == "whatsapp",
                sa.or_(jobs.c.message_id.is_not(None), messages_table.c.updated_at > since),
            )
        )
        for recipient, due_at, updated_at in (await conn.execute(query)).all():
            at = max(due_at, now) if due_at is not None else updated_at
            if recipient not in found or at > found[recipient]:
                found[recipient] = at
    return found
