"""The SMPP server's rows: accounts, the ids given to ESMEs (with parts waiting for their message), receipts and
inbound messages waiting for a bound receiver. Receipts and inbound rows are claimed with a lease, so that one
of several binds (in one process or many) delivers each, and a dead one's claims come back."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.smpp_server import FINAL_STATUSES
from parley.store.tables import (
    Record,
    messages,
    numbers,
    service_members,
    services,
    smpp_accounts,
    smpp_inbound,
    smpp_submits,
    users,
)


async def find_account(conn: AsyncConnection, system_id: str) -> Record | None:
    """The account with its user's ``extension``."""
    query = (
        sa.select(smpp_accounts, users.c.extension)
        .join(users, users.c.id == smpp_accounts.c.user_id)
        .where(smpp_accounts.c.system_id == system_id)
    )
    return (await conn.execute(query)).first()


async def has_accounts(conn: AsyncConnection) -> bool:
    return (await conn.scalar(sa.select(smpp_accounts.c.system_id).limit(1))) is not None


def _numbers_of_accounts() -> sa.Subquery:
    """(system_id, user_id, number): each account's user's office number and his services' numbers."""
    a, m = smpp_accounts, service_members
    office = sa.select(a.c.system_id, a.c.user_id, users.c.office_number.label("number")).join(
        users, users.c.id == a.c.user_id
    )
    service = (
        sa.select(a.c.system_id, a.c.user_id, services.c.sms_number.label("number"))
        .join(m, m.c.user_id == a.c.user_id)
        .join(services, services.c.id == m.c.service_id)
    )
    linked = (
        sa.select(a.c.system_id, a.c.user_id, numbers.c.number.label("number"))
        .join(m, m.c.user_id == a.c.user_id)
        .join(numbers, numbers.c.linked_service_id == m.c.service_id)
    )
    return sa.union(office, service, linked).subquery()


async def user_numbers(conn: AsyncConnection, user_id: int) -> set[str]:
    """The numbers a user may send from: his office number and his services' numbers."""
    sub = _numbers_of_accounts()
    rows = (await conn.execute(sa.select(sub.c.number).where(sub.c.user_id == user_id))).all()
    return {r.number for r in rows if r.number}


async def accounts_by_number(conn: AsyncConnection, wanted: Collection[str]) -> dict[str, list[str]]:
    """For each of ``wanted`` company numbers, the accounts whose user it belongs to."""
    found: dict[str, list[str]] = {}
    sub = _numbers_of_accounts()
    query = sa.select(sub.c.system_id, sub.c.number).where(sub.c.number.in_(list(wanted)))
    for row in (await conn.execute(query.order_by(sub.c.system_id))).all():
        found.setdefault(row.number, []).append(row.system_id)
    return found


async def add_submits(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(smpp_submits.insert(), list(rows))


async def waiting_parts(conn: AsyncConnection, system_id: str, concat_key: str) -> list[Record]:
    query = sa.select(smpp_submits).where(
        smpp_submits.c.system_id == system_id,
        smpp_submits.c.concat_key == concat_key,
        smpp_submits.c.message_id.is_(None),
    )
    return list((await conn.execute(query.order_by(smpp_submits.c.created_at))).all())


class PartsTaken(Exception):
    """Some of the parts are no longer waiting: another transaction linked them to its message (another process
    joined the same long message) or dropped them."""


async def link_parts(conn: AsyncConnection, ids: Sequence[str], message_id: str) -> None:
    """The parts' message is sent: they point at it and forget their octets. Only parts still waiting are linked,
    all or none: raises `PartsTaken` (the caller's transaction must roll back, its message with it) when any is not.
    The database arbitrates between processes: PostgreSQL (READ COMMITTED) makes a second UPDATE of the same rows
    wait for the first transaction and then checks its condition again on what that one committed; SQLite runs one
    writer at a time."""
    s = smpp_submits
    query = s.update().where(s.c.id.in_(ids), s.c.message_id.is_(None))
    linked = await conn.execute(query.values(message_id=message_id, text=None, concat_key=None))
    if linked.rowcount != len(ids):
        raise PartsTaken(f"{len(ids) - linked.rowcount} of {len(ids)} parts are no longer waiting")


async def drop_parts(conn: AsyncConnection, ids: Sequence[str]) -> None:
    """Drop the parts that still wait for their message (one another process sent keeps its parts)."""
    s = smpp_submits
    await conn.execute(s.delete().where(s.c.id.in_(ids), s.c.message_id.is_(None)))


async def list_stale_parts(conn: AsyncConnection, before: datetime) -> list[Record]:
    query = sa.select(smpp_submits).where(smpp_submits.c.message_id.is_(None), smpp_submits.c.created_at < before)
    return list((await conn.execute(query)).all())


async def claim_receipts(
    conn: AsyncConnection, system_ids: Collection[str], now: datetime, lease: timedelta, limit: int
) -> list[Record]:
    """Receipts due (their message reached a final status) for these accounts, leased to the caller; each
    with its message's status, error, text and times."""
    s, m = smpp_submits, messages
    free = sa.or_(s.c.lease_until.is_(None), s.c.lease_until < now)
    due = (
        sa.select(s.c.id)
        .join(m, m.c.id == s.c.message_id)
        .where(s.c.receipt_pending, s.c.system_id.in_(system_ids), m.c.status.in_(FINAL_STATUSES), free)
        .limit(limit)
    )
    ids = [r.id for r in (await conn.execute(sa.select(due.subquery().c.id))).all()]
    if not ids:
        return []
    claim = s.update().where(s.c.id.in_(ids), free).values(lease_until=now + lease).returning(s.c.id)
    claimed = [r.id for r in (await conn.execute(claim)).all()]
    query = (
        sa.select(
            s.c.id,
            s.c.system_id,
            s.c.part,
            s.c.created_at,
            m.c.status,
            m.c.error,
            m.c.error_code,
            m.c.body,
            m.c.sender,
            m.c.recipient,
            m.c.updated_at,
        )
        .join(m, m.c.id == s.c.message_id)
        .where(s.c.id.in_(claimed))
    )
    return list((await conn.execute(query)).all())


async def finish_receipts(conn: AsyncConnection, ids: Sequence[str]) -> None:
    query = smpp_submits.update().where(smpp_submits.c.id.in_(ids))
    await conn.execute(query.values(receipt_pending=False, lease_until=None))


async def release_receipts(conn: AsyncConnection, ids: Sequence[str]) -> None:
    await conn.execute(smpp_submits.update().where(smpp_submits.c.id.in_(ids)).values(lease_until=None))


async def add_inbound(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(smpp_inbound.insert(), list(rows))


async def claim_inbound(
    conn: AsyncConnection, system_ids: Collection[str], now: datetime, lease: timedelta, limit: int
) -> list[Record]:
    """Inbound messages waiting for these accounts' receivers, oldest first, leased to the caller."""
    i, m = smpp_inbound, messages
    free = sa.or_(i.c.lease_until.is_(None), i.c.lease_until < now)
    due = sa.select(i.c.id).where(i.c.system_id.in_(system_ids), free).order_by(i.c.id).limit(limit)
    ids = [r.id for r in (await conn.execute(due)).all()]
    if not ids:
        return []
    claim = i.update().where(i.c.id.in_(ids), free).values(lease_until=now + lease).returning(i.c.id)
    claimed = [r.id for r in (await conn.execute(claim)).all()]
    query = (
        sa.select(i.c.id, i.c.system_id, m.c.sender, m.c.recipient, m.c.body)
        .join(m, m.c.id == i.c.message_id)
        .where(i.c.id.in_(claimed))
        .order_by(i.c.id)
    )
    return list((await conn.execute(query)).all())


async def finish_inbound(conn: AsyncConnection, ids: Sequence[int]) -> None:
    await conn.execute(smpp_inbound.delete().where(smpp_inbound.c.id.in_(ids)))


async def release_inbound(conn: AsyncConnection, ids: Sequence[int]) -> None:
    await conn.execute(smpp_inbound.update().where(smpp_inbound.c.id.in_(ids)).values(lease_until=None))
