"""Messages and their status history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store import change_notes
from parley.store.bulk import insert_rows
from parley.store.one_of import one_of, planned_once
from parley.store.tables import Record, message_events, messages, users
from parley.store.unnest import update_rows

# The statuses a message moves through (DESIGN "The path of a message").
STATUSES = (
    "scheduled",
    "queued",
    "sending",
    "submitting",  # a campaign message about to reach the peer (journalled: never sent twice)
    "sent",
    "delivered",
    "read",  # WhatsApp: the customer opened it (after delivered)
    "undelivered",
    "failed",
    "received",
    "blocked",  # inbound from a customer an agent blocked: kept, not shown to agents
    "cancelled",  # a campaign message withdrawn by a stop before it was sent
)
FINAL = frozenset({"delivered", "read", "undelivered", "failed", "received", "blocked"})


@dataclass(frozen=True)
class MessageFilter:
    status: str | None = None
    direction: str | None = None
    to: str | None = None
    sender: str | None = None
    user_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    campaign_id: str | None = None
    before_id: str | None = None  # keyset pagination: ids sort by creation time
    limit: int = 50


# What a row that leaves out an optional column stores in it (a column's own default, or null).
_OPTIONAL = {"delivery_assumed": False, "channel": "sms"}


async def add_all(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert messages (full rows). Their first status is not an event row: `history` derives it.

    One group commit inserts the rows of many sends at once (an SMS, a WhatsApp template with its ``template``, an
    API send with its status callback): rows are given every key any of them has, so one executemany takes them all.
    """
    keys = {k for row in rows for k in row}
    if any(len(row) != len(keys) for row in rows):
        rows = [{**{k: _OPTIONAL.get(k) for k in keys}, **row} for row in rows]
    await insert_rows(conn, messages, rows)
    change_notes.created(conn, rows)


async def mark_submitting(conn: AsyncConnection, message_ids: Sequence[str], *, now: datetime) -> None:
    """The journal mark of campaign messages whose bytes are about to go to the peer."""
    await conn.execute(
        messages.update().where(messages.c.id.in_(list(message_ids))).values(status="submitting", updated_at=now)
    )
    change_notes.statuses(conn, ((m, "submitting") for m in message_ids))


async def update_many(conn: AsyncConnection, changes: Sequence[dict[str, Any]]) -> None:
    """Update messages by ``id`` without a status event (routing an inbound message into its conversation).

    Rows with the same keys go in one executemany.
    """
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in changes:
        by_shape.setdefault(tuple(sorted(k for k in change if k != "id")), []).append(change)
    for keys, group in by_shape.items():
        statement = (
            messages.update()
            .where(messages.c.id == sa.bindparam("b_id"))
            .values(**{k: sa.bindparam(f"b_{k}") for k in keys})
        )
        await conn.execute(statement, [{f"b_{k}": v for k, v in c.items()} for c in group])
    change_notes.routed(conn, (c["id"] for c in changes if c.get("conversation_id")))


async def count_sent_since(conn: AsyncConnection, sender: str, since: datetime) -> int:
    """Outbound messages from ``sender`` created since ``since`` (a toll-free number's daily limit)."""
    query = sa.select(sa.func.count()).where(
        messages.c.created_at >= since, messages.c.sender == sender, messages.c.direction == "out"
    )
    return int(await conn.scalar(query) or 0)


def first_status(row: Record) -> str:
    """The status a message was created with (history's first entry, at ``created_at``)."""
    if row.direction == "in":
        return "received"
    return "scheduled" if row.send_at is not None else "queued"


async def set_status(conn: AsyncConnection, changes: Sequence[dict[str, Any]], *, now: datetime) -> None:
    """Apply status changes.

    Each dict has ``id``, ``status`` and optionally ``error``, ``error_code``, ``transport``, ``delivery_assumed``
    and ``detail``.
    """
    if not changes:
        return
    change_notes.statuses(conn, ((c["id"], c["status"]) for c in changes))
    events = [
        {"message_id": c["id"], "status": c["status"], "at": now, "detail": c.get("detail") or c.get("error")}
        for c in changes
    ]
    if conn.dialect.name == "postgresql":  # one statement, one round trip
        await conn.execute(_SET_STATUS_PG, _status_arrays(changes, events, now))
        return
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in changes:
        keys = tuple(sorted(k for k in change if k in _OPTIONAL_CHANGES))
        by_shape.setdefault(keys, []).append(change)
    for keys, group in by_shape.items():
        rows = [{"id": c["id"], "status": c["status"], **{k: c[k] for k in keys}} for c in group]
        await update_rows(conn, messages, ("id",), rows, fixed={"updated_at": now})
    await insert_rows(conn, message_events, events)


# The columns a status change may set besides its status; a change that leaves one out keeps the message's value.
_OPTIONAL_CHANGES = ("error", "error_code", "transport", "delivery_assumed")
# PostgreSQL: the messages' UPDATE and their events' INSERT in one statement, whatever the changes' shapes (issue 15:
# receipts and outcomes come a few at a time, so the statements per transaction are their cost). A column a change
# leaves out is kept (``keep_<column>``); the UPDATE is a data-modifying CTE, run whether or not it is referenced.
_SET_STATUS_PG = sa.text(
    planned_once(
        "WITH v AS (SELECT * FROM unnest(CAST(:ids AS VARCHAR[]), CAST(:statuses AS VARCHAR[]), "
        "CAST(:v_error AS TEXT[]), CAST(:keep_error AS BOOLEAN[]), CAST(:v_error_code AS VARCHAR[]), "
        "CAST(:keep_error_code AS BOOLEAN[]), CAST(:v_transport AS VARCHAR[]), CAST(:keep_transport AS BOOLEAN[]), "
        "CAST(:v_delivery_assumed AS BOOLEAN[]), CAST(:keep_delivery_assumed AS BOOLEAN[])) "
        "AS v(id, status, error, keep_error, error_code, keep_error_code, transport, keep_transport, "
        "delivery_assumed, keep_delivery_assumed)), "
        "changed AS (UPDATE messages SET status = v.status, updated_at = :now, "
        "error = CASE WHEN v.keep_error THEN messages.error ELSE v.error END, "
        "error_code = CASE WHEN v.keep_error_code THEN messages.error_code ELSE v.error_code END, "
        "transport = CASE WHEN v.keep_transport THEN messages.transport ELSE v.transport END, "
        "delivery_assumed = CASE WHEN v.keep_delivery_assumed THEN messages.delivery_assumed "
        "ELSE v.delivery_assumed END "
        "FROM v WHERE messages.id = v.id) "
        "INSERT INTO message_events (message_id, status, at, detail) "
        "SELECT e.message_id, e.status, :now, e.detail FROM unnest(CAST(:event_ids AS VARCHAR[]), "
        "CAST(:event_statuses AS VARCHAR[]), CAST(:event_details AS TEXT[])) AS e(message_id, status, detail)"
    )
).bindparams(sa.bindparam("now", type_=messages.c.updated_at.type))


def _status_arrays(
    changes: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    merged: dict[str, dict[str, Any]] = {}
    for c in changes:  # a message changed twice in one batch: the later change's values win
        merged[c["id"]] = {**merged.get(c["id"], {}), **c}
    last = list(merged.values())
    arrays: dict[str, Any] = {"ids": [c["id"] for c in last], "statuses": [c["status"] for c in last], "now": now}
    for column in _OPTIONAL_CHANGES:
        arrays[f"v_{column}"] = [c.get(column) for c in last]
        arrays[f"keep_{column}"] = [column not in c for c in last]
    arrays |= {
        "event_ids": [e["message_id"] for e in events],
        "event_statuses": [e["status"] for e in events],
        "event_details": [e["detail"] for e in events],
    }
    return arrays


def _columns() -> list[Any]:
    return [*messages.c, users.c.extension.label("user")]


async def get_many(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, Record]:
    if not ids:
        return {}
    rows = (await conn.execute(sa.select(*messages.c).where(one_of(conn, messages.c.id, ids)))).all()
    change_notes.seen(conn, rows)
    return {r.id: r for r in rows}


async def find(conn: AsyncConnection, message_id: str) -> Record | None:
    query = sa.select(*_columns()).outerjoin(users, users.c.id == messages.c.user_id).where(messages.c.id == message_id)
    return (await conn.execute(query)).first()


@dataclass(frozen=True)
class StatusChange:
    status: str
    at: datetime
    detail: str | None


async def history(conn: AsyncConnection, message: Record) -> list[StatusChange]:
    """Every status the message had, oldest first, starting with the one it was created with."""
    query = (
        sa.select(message_events.c.status, message_events.c.at, message_events.c.detail)
        .where(message_events.c.message_id == message.id)
        .order_by(message_events.c.id)
    )
    later = [StatusChange(r.status, r.at, r.detail) for r in (await conn.execute(query)).all()]
    return [StatusChange(first_status(message), message.created_at, None), *later]


async def list_(conn: AsyncConnection, f: MessageFilter) -> list[Record]:
    query = sa.select(*_columns()).outerjoin(users, users.c.id == messages.c.user_id)
    conditions = []
    if f.status:
        conditions.append(messages.c.status == f.status)
    if f.direction:
        conditions.append(messages.c.direction == f.direction)
    if f.to:
        conditions.append(messages.c.recipient == f.to)
    if f.sender:
        conditions.append(messages.c.sender == f.sender)
    if f.user_id is not None:
        conditions.append(messages.c.user_id == f.user_id)
    if f.since:
        conditions.append(messages.c.created_at >= f.since)
    if f.until:
        conditions.append(messages.c.created_at < f.until)
    if f.campaign_id:
        conditions.append(messages.c.campaign_id == f.campaign_id)
    if f.before_id:
        conditions.append(messages.c.id < f.before_id)
    query = query.where(*conditions).order_by(messages.c.id.desc()).limit(f.limit)
    return list((await conn.execute(query)).all())
