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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.receipts import Apply, Candidate, Discard, advance, choose_part
from parley.store import change_notes
from parley.store.bulk import insert_rows
from parley.store.one_of import one_of
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
    "INSERT INTO message_parts (message_id, part, transport, carrier_id, recorded_at, state, stat, err) "
    "SELECT v.message_id, v.part, v.transport, v.carrier_id, :now, NULL, NULL, NULL "
    "FROM unnest(CAST(:message_ids AS VARCHAR[]), CAST(:parts AS INTEGER[]), CAST(:transports AS VARCHAR[]), "
    "CAST(:carrier_ids AS VARCHAR[])) AS v(message_id, part, transport, carrier_id) "
    "JOIN messages ON messages.id = v.message_id "
    "ON CONFLICT (message_id, part) DO UPDATE SET transport = excluded.transport, carrier_id = excluded.carrier_id, "
    "recorded_at = excluded.recorded_at, state = NULL, stat = NULL, err = NULL"
).bindparams(sa.bindparam("now", type_=message_parts.c.recorded_at.type))


def _arrays(parts: Iterable[dict[str, Any]], now: datetime) -> dict[str, Any]:
    rows = list(parts)
    return {
        "message_ids": [p["message_id"] for p in rows],
        "parts": [p["part"] for p in rows],
        "transports": [p["transport"] for p in rows],
        "carrier_ids": [p["carrier_id"] for p in rows],
        "now": now,
    }


async def add_receipts(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await insert_rows(conn, receipts, [{"applied_at": None, **r} for r in rows])  # COPY for a large batch


async def match(
    conn: AsyncConnection,
    *,
    now: datetime,
    keys: Sequence[tuple[str, str]] | None = None,
    since: datetime | None = None,
) -> list[Matched]:
    """Apply unapplied receipts (of these (transport, carrier id) keys, or received since ``since``).

    Each goes to the newest part with its id that still waits for a final state; one that finds none waits
    (its part may not be recorded yet) for `RACE`, then is marked applied without changing any part.
    Returns one row per receipt applied to a part, in arrival order.
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
        return []
    pending.sort(key=lambda r: r.id)
    candidates = await _candidates(conn, pending)
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
    if changed:  # one set-wise statement (`unnest`)
        rows = [
            {"message_id": m, "part": p, "state": hit.state, "stat": hit.stat, "err": hit.err}
            for (m, p), hit in changed.items()
        ]
        await update_rows(conn, message_parts, ("message_id", "part"), rows)
    for chunk in _chunks(done):
        await conn.execute(receipts.update().where(one_of(conn, receipts.c.id, chunk)).values(applied_at=now))
    return applied


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
