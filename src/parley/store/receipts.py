"""Delivery receipts and the carrier ids they refer to.

Receipts are stored first and matched to message parts afterwards, from both sides: when a receipt
arrives, and when a submit's carrier ids are recorded. A receipt that arrives before its
submit_sm_resp has been recorded simply waits, unapplied, until the part appears (DESIGN: "match
late, never drop").

Carrier ids repeat (an SMSC's counter restarts with it), so a part is keyed by (message, part), never by
its carrier id, and a receipt goes to the newest part with its id that still waits for a final state
(`parley.core.receipts.choose_part`). Nothing here can conflict on a carrier id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.receipts import Apply, Candidate, Discard, advance, choose_part
from parley.store import change_notes
from parley.store.bulk import insert_rows
from parley.store.one_of import one_of, planned_once
from parley.store.tables import message_parts, receipts
from parley.store.tables import messages as messages_table
from parley.store.unnest import update_rows

log = structlog.get_logger()

# How far a receipt and the recording of its part may be apart in the race (the deliver_sm before the
# submit_sm_resp's outcome is committed); also how long a receipt that finds only parts which already
# have their final state waits for a newer part before it is discarded.
RACE = timedelta(minutes=2)
# A part recorded longer than this before a receipt is never that receipt's (a validity period is days).
WINDOW = timedelta(days=7)
_CHUNK = 1000  # ids per IN (…): well under SQLite's and asyncpg's bound-parameter limits


@dataclass(frozen=True)
class Matched:
    """A receipt applied to one message part."""

    receipt_id: int
    message_id: str
    state: str
    stat: str
    err: str
    detail: str | None = None  # the provider's words (WhatsApp's error title)


@dataclass(frozen=True)
class Matches:
    """Receipts applied to parts (in arrival order), and their messages as the receipts left their parts."""

    applied: list[Matched] = field(default_factory=list)
    messages: dict[str, Any] = field(default_factory=dict)  # rows as `messages.get_many` gives them
    part_states: dict[str, list[str | None]] = field(default_factory=dict)  # each message's parts' states


async def add_parts(conn: AsyncConnection, parts: Sequence[dict[str, Any]], *, now: datetime) -> None:
    """Record (transport, carrier_id, message_id, part) rows; a message recorded again replaces its parts.

    Parts of messages deleted meanwhile are left out, so no row here can fail the others' transaction.
    """
    latest = {(p["message_id"], p["part"]): p for p in parts}  # the same message twice in one batch: last wins
    if not latest:
        return
    if conn.dialect.name == "postgresql":  # one set-wise statement that leaves them out itself
        await conn.execute(_ADD_PARTS_PG, _arrays(latest.values(), now))
        return
    ids = sorted({m for m, _ in latest})
    existing: set[str] = set()
    for chunk in _chunks(ids):
        found = await conn.execute(sa.select(messages_table.c.id).where(one_of(conn, messages_table.c.id, chunk)))
        existing.update(str(r.id) for r in found)
    rows = [
        {**p, "recorded_at": now, "state": None, "stat": None, "err": None}
        for (m, _), p in latest.items()
        if m in existing
    ]
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(message_parts)
    upsert = insert.on_conflict_do_update(
        index_elements=[message_parts.c.message_id, message_parts.c.part],
        set_={c: insert.excluded[c] for c in ("transport", "carrier_id", "recorded_at", "state", "stat", "err")},
    )
    await conn.execute(upsert, rows)


_ADD_PARTS_PG = sa.text(
    planned_once(
        "INSERT INTO message_parts (message_id, part, transport, carrier_id, recorded_at, state, stat, err) "
        "SELECT v.message_id, v.part, v.transport, v.carrier_id, :now, NULL, NULL, NULL "
        "FROM unnest(CAST(:message_ids AS VARCHAR[]), CAST(:parts AS INTEGER[]), CAST(:transports AS VARCHAR[]), "
        "CAST(:carrier_ids AS VARCHAR[])) AS v(message_id, part, transport, carrier_id) "
        "JOIN messages ON messages.id = v.message_id "
        "ON CONFLICT (message_id, part) DO UPDATE SET transport = excluded.transport, "
        "carrier_id = excluded.carrier_id, "
        "recorded_at = excluded.recorded_at, state = NULL, stat = NULL, err = NULL"
    )
).bindparams(sa.bindparam("now", type_=message_parts.c.recorded_at.type))


async def record_parts(conn: AsyncConnection, parts: Sequence[dict[str, Any]], *, now: datetime) -> Matches:
    """`add_parts`, then apply the receipts that were waiting for them (see `match`).

    On PostgreSQL the parts' INSERT and the read of the receipts that wait for their carrier ids are one statement;
    the receipts usually come later, so that is all it costs.
    """
    latest = {(p["message_id"], p["part"]): p for p in parts}  # the same message twice in one batch: last wins
    if not latest:
        return Matches()
    keys = {(p["transport"], p["carrier_id"]) for p in latest.values()}
    if conn.dialect.name != "postgresql":
        await add_parts(conn, parts, now=now)
        return await match(conn, now=now, keys=list(keys))
    found = (await conn.execute(_ADD_PARTS_AND_WAITING_PG, _arrays(latest.values(), now))).all()
    pending = sorted((r for r in found if (r.transport, r.carrier_id) in keys), key=lambda r: r.id)
    if not pending:
        return Matches()
    return await _apply(conn, now, pending, await _candidates(conn, pending))


# The parts' INSERT as a data-modifying CTE, and the unapplied receipts with their carrier ids (cross product of
# transports and ids, narrowed by the caller).
_ADD_PARTS_AND_WAITING_PG = (
    sa.text(
        # Only the tables' own column names are formatted into the text; values are bound.
        f"WITH added AS ({_ADD_PARTS_PG.text}) SELECT {', '.join(c.name for c in receipts.c)} FROM receipts "  # noqa: S608
        "WHERE applied_at IS NULL AND transport = ANY(CAST(:transports AS VARCHAR[])) "
        "AND carrier_id = ANY(CAST(:carrier_ids AS VARCHAR[]))"
    )
    .bindparams(sa.bindparam("now", type_=message_parts.c.recorded_at.type))
    .columns(*(sa.column(c.name, c.type) for c in receipts.c))
)


def _arrays(parts: Iterable[dict[str, Any]], now: datetime) -> dict[str, Any]:
    rows = list(parts)
    return {
        "message_ids": [p["message_id"] for p in rows],
        "parts": [p["part"] for p in rows],
        "transports": [p["transport"] for p in rows],
        "carrier_ids": [p["carrier_id"] for p in rows],
        "now": now,
    }


async def receive(conn: AsyncConnection, rows: Sequence[dict[str, Any]], *, now: datetime) -> Matches:
    """Store receipts (transport, carrier_id, state, stat, err, detail) received at ``now``, and apply what can be
    applied of the unapplied receipts with their (transport, carrier id) keys (see `match`).

    PostgreSQL stores them and reads the unapplied ones with the parts they may go to in one statement.
    """
    if not rows:
        return Matches()
    keys = {(r["transport"], r["carrier_id"]) for r in rows}
    if conn.dialect.name != "postgresql":
        await insert_rows(conn, receipts, [{**r, "received_at": now, "applied_at": None} for r in rows])
        return await match(conn, now=now, keys=list(keys))
    arrays = {c: [r[c] for r in rows] for c in _RECEIPT_COLUMNS}
    found = (await conn.execute(_RECEIVE_PG, {**arrays, "now": now, "window": WINDOW})).all()
    pending: dict[int, Any] = {}
    candidates: dict[tuple[str, str], dict[tuple[str, int], Candidate]] = {}
    for r in found:
        if (r.transport, r.carrier_id) not in keys:
            continue  # another transport's receipt with the same carrier id
        pending[r.id] = r
        if r.part_message_id is not None:
            candidate = Candidate(r.part_message_id, r.part_number, r.part_recorded_at, r.part_state)
            candidates.setdefault((r.transport, r.carrier_id), {})[(candidate.message_id, candidate.part)] = candidate
    options = {key: list(parts.values()) for key, parts in candidates.items()}
    return await _apply(conn, now, sorted(pending.values(), key=lambda r: r.id), options)


_RECEIPT_COLUMNS = ("transport", "carrier_id", "state", "stat", "err", "detail")
_RECEIPT_ROW = ", ".join(c.name for c in receipts.c)
# The new receipts (``new``), with the older unapplied ones of their carrier ids (the UNION's second half does not
# see the rows the first inserts: one snapshot), each with the parts recent enough to be its own.
_RECEIVE_PG = (
    sa.text(
        planned_once(
            # Only the tables' own column names are formatted into the text; values are bound.
            "WITH new AS (INSERT INTO receipts (transport, carrier_id, state, stat, err, detail, received_at) "  # noqa: S608
            "SELECT v.*, :now FROM unnest(CAST(:transport AS VARCHAR[]), CAST(:carrier_id AS VARCHAR[]), "
            "CAST(:state AS VARCHAR[]), CAST(:stat AS VARCHAR[]), CAST(:err AS VARCHAR[]), CAST(:detail AS TEXT[])) "
            f"AS v(transport, carrier_id, state, stat, err, detail) RETURNING {_RECEIPT_ROW}), "
            f"pending AS (SELECT {_RECEIPT_ROW} FROM new UNION ALL SELECT {_RECEIPT_ROW} FROM receipts "
            "WHERE applied_at IS NULL AND transport = ANY(CAST(:transport AS VARCHAR[])) "
            "AND carrier_id = ANY(CAST(:carrier_id AS VARCHAR[]))) "
            "SELECT pending.*, p.message_id AS part_message_id, p.part AS part_number, "
            "p.recorded_at AS part_recorded_at, "
            "p.state AS part_state FROM pending "
            "LEFT JOIN message_parts AS p ON p.transport = pending.transport AND p.carrier_id = pending.carrier_id "
            "AND p.recorded_at >= pending.received_at - CAST(:window AS INTERVAL)"
        )
    )
    .bindparams(sa.bindparam("now", type_=receipts.c.received_at.type), sa.bindparam("window", type_=sa.Interval()))
    .columns(
        *(sa.column(c.name, c.type) for c in receipts.c),
        sa.column("part_message_id", sa.String),
        sa.column("part_number", sa.Integer),
        sa.column("part_recorded_at", message_parts.c.recorded_at.type),
        sa.column("part_state", sa.String),
    )
)


async def match(
    conn: AsyncConnection,
    *,
    now: datetime,
    keys: Sequence[tuple[str, str]] | None = None,
    since: datetime | None = None,
) -> Matches:
    """Apply unapplied receipts (of these (transport, carrier id) keys, or received since ``since``).

    Each goes to the newest part with its id that still waits for a final state; one that finds none waits
    (its part may not be recorded yet) for `RACE`, then is marked applied without changing any part.
    """
    conditions: list[sa.ColumnElement[bool]] = [receipts.c.applied_at.is_(None)]
    if since is not None:
        conditions.append(receipts.c.received_at >= since)
    wanted = set(keys) if keys is not None else None
    pending: list[Any] = []
    if wanted is not None:
        transports = sorted({t for t, _ in wanted})  # with the carrier ids: the (transport, carrier_id) index
        for chunk in _chunks(sorted({c for _, c in wanted})):
            query = sa.select(receipts).where(
                *conditions,
                one_of(conn, receipts.c.transport, transports),
                one_of(conn, receipts.c.carrier_id, chunk),
            )
            pending += [r for r in (await conn.execute(query)).all() if (r.transport, r.carrier_id) in wanted]
    else:
        pending = list((await conn.execute(sa.select(receipts).where(*conditions))).all())
    if not pending:
        return Matches()
    pending.sort(key=lambda r: r.id)
    return await _apply(conn, now, pending, await _candidates(conn, pending))


async def _apply(
    conn: AsyncConnection, now: datetime, pending: Sequence[Any], candidates: dict[tuple[str, str], list[Candidate]]
) -> Matches:
    """Apply ``pending`` receipts (oldest first) to their ``candidates`` parts."""
    applied: list[Matched] = []
    changed: dict[tuple[str, int], Matched] = {}
    done: list[int] = []
    for r in pending:
        options = candidates.get((r.transport, r.carrier_id), [])
        choice = choose_part(r.received_at, options, now, window=WINDOW, race=RACE, state=r.state)
        if isinstance(choice, Apply):
            part = choice.part
            state = advance(part.state, r.state)
            hit = Matched(r.id, part.message_id, state or r.state, r.stat, r.err, r.detail)
            applied.append(hit)
            if state != part.state:  # a receipt that would take the part backwards changes nothing
                changed[(part.message_id, part.part)] = hit
            # A later receipt in this round sees the part as it now is (an intermediate state keeps it waiting).
            options[options.index(part)] = Candidate(part.message_id, part.part, part.recorded_at, state)
        elif isinstance(choice, Discard):
            log.info("receipt.discarded", transport=r.transport, carrier_id=r.carrier_id, reason=choice.reason)
        else:
            continue
        done.append(r.id)
    if not done:
        return Matches()
    rows = [
        {"message_id": m, "part": p, "state": hit.state, "stat": hit.stat, "err": hit.err}
        for (m, p), hit in changed.items()
    ]
    ids = list(dict.fromkeys(hit.message_id for hit in applied))
    if conn.dialect.name == "postgresql":  # the parts, the receipts and the messages as they are now: one statement
        arrays = {c: [row[c] for row in rows] for c in ("message_id", "part", "state", "stat", "err")}
        found = (await conn.execute(_SETTLE_PG, {**arrays, "done": done, "ids": ids, "now": now})).all()
        return Matches(applied, *_with_states(conn, found))
    await update_rows(conn, message_parts, ("message_id", "part"), rows)
    for chunk in _chunks(done):
        await conn.execute(receipts.update().where(one_of(conn, receipts.c.id, chunk)).values(applied_at=now))
    return Matches(applied, *await with_part_states(conn, ids))


_MESSAGE_ROW = ", ".join(f"messages.{c.name}" for c in messages_table.c)
# The parts' new states (``v``), the receipts marked applied, and the messages of the applied receipts with their
# parts' states as they are after the UPDATE (the SELECT sees the statement's snapshot, so it reads them from ``v``).
_SETTLE_PG = (
    sa.text(
        planned_once(
            # Only the tables' own column names are formatted into the text; values are bound.
            "WITH v AS (SELECT * FROM unnest(CAST(:message_id AS VARCHAR[]), CAST(:part AS INTEGER[]), "  # noqa: S608
            "CAST(:state AS VARCHAR[]), CAST(:stat AS VARCHAR[]), CAST(:err AS VARCHAR[])) "
            "AS v(message_id, part, state, stat, err)), "
            "changed AS (UPDATE message_parts SET state = v.state, stat = v.stat, err = v.err FROM v "
            "WHERE message_parts.message_id = v.message_id AND message_parts.part = v.part), "
            "applied AS (UPDATE receipts SET applied_at = :now WHERE id = ANY(CAST(:done AS INTEGER[]))) "
            f"SELECT {_MESSAGE_ROW}, (SELECT string_agg(COALESCE(v.state, p.state, ''), ',') FROM message_parts AS p "
            "LEFT JOIN v ON v.message_id = p.message_id AND v.part = p.part WHERE p.message_id = messages.id) "
            "FROM messages WHERE messages.id = ANY(CAST(:ids AS VARCHAR[]))"
        )
    )
    .bindparams(sa.bindparam("now", type_=receipts.c.applied_at.type))
    .columns(*(sa.column(c.name, c.type) for c in messages_table.c), sa.column("part_states", sa.Text))
)


async def _candidates(conn: AsyncConnection, pending: Sequence[Any]) -> dict[tuple[str, str], list[Candidate]]:
    """The parts that carry the pending receipts' ids and are recent enough to be theirs."""
    oldest = min(r.received_at for r in pending) - WINDOW
    transports = sorted({r.transport for r in pending})  # with the carrier ids: ix_message_parts_carrier
    found: dict[tuple[str, str], list[Candidate]] = {}
    for chunk in _chunks(sorted({r.carrier_id for r in pending})):
        query = sa.select(message_parts).where(
            one_of(conn, message_parts.c.transport, transports),
            one_of(conn, message_parts.c.carrier_id, chunk),
            message_parts.c.recorded_at >= oldest,
        )
        for p in (await conn.execute(query)).all():
            found.setdefault((p.transport, p.carrier_id), []).append(
                Candidate(p.message_id, p.part, p.recorded_at, p.state)
            )
    return found


async def with_part_states(
    conn: AsyncConnection, message_ids: Sequence[str]
) -> tuple[dict[str, Any], dict[str, list[str | None]]]:
    """The messages (rows as `messages.get_many` gives them, plus ``part_states``) and their parts' states.

    One query where `messages.get_many` and `part_states` were two: each group commit of receipts makes it.
    """
    agg = sa.func.string_agg if conn.dialect.name == "postgresql" else sa.func.group_concat
    states = (
        sa.select(agg(sa.func.coalesce(message_parts.c.state, ""), ","))
        .where(message_parts.c.message_id == messages_table.c.id)
        .scalar_subquery()
        .label("part_states")
    )
    rows: list[Any] = []
    for chunk in _chunks(list(message_ids)):
        query = sa.select(*messages_table.c, states).where(one_of(conn, messages_table.c.id, chunk))
        rows += (await conn.execute(query)).all()
    return _with_states(conn, rows)


def _with_states(conn: AsyncConnection, rows: Sequence[Any]) -> tuple[dict[str, Any], dict[str, list[str | None]]]:
    change_notes.seen(conn, rows)
    found = {str(r.id): r for r in rows}
    parts = {
        str(r.id): [s or None for s in r.part_states.split(",")] for r in rows if r.part_states is not None
    }  # a part without a state is stored as "" in the list
    return found, parts


async def count_unapplied(conn: AsyncConnection, since: datetime) -> int:
    query = sa.select(sa.func.count()).where(receipts.c.applied_at.is_(None), receipts.c.received_at >= since)
    return int(await conn.scalar(query) or 0)


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]
