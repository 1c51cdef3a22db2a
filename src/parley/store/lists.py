"""Saved recipient lists and their entries (issue 4 §1, seed 003).

Entries are added with ``INSERT … ON CONFLICT DO NOTHING RETURNING number`` (both SQLite and PostgreSQL have it)
rather than `bulk.insert_rows`: COPY cannot skip numbers already in the list, and checking first with an
``IN (…5,000 numbers…)`` query was measured to degenerate on PostgreSQL into a sequential scan that compares every
row with every number (minutes for a 100,000-row list). The conflict clause uses the primary key instead, is exact
under concurrent writers, and returns the numbers it inserted, which an upload needs to undo itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.db import Database
from parley.store.tables import Record, users
from parley.store.tables import list_entries as entry_table
from parley.store.tables import lists as list_table

ITER_CHUNK = 5_000


async def create(conn: AsyncConnection, name: str, *, by: int | None, now: datetime) -> int:
    """Add an empty list and return its id; IntegrityError when the name is taken."""
    query = list_table.insert().values(name=name, columns=[], created_by=by, created_at=now, updated_at=now)
    return int((await conn.execute(query.returning(list_table.c.id))).scalar_one())


async def find(conn: AsyncConnection, list_id: int, *, lock: bool = False) -> Record | None:
    """The list's own row, or None. ``lock`` holds it (PostgreSQL) for a read-modify-write of its columns."""
    query = sa.select(list_table).where(list_table.c.id == list_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def find_by_name(conn: AsyncConnection, name: str) -> Record | None:
    """The list with exactly this name, or None."""
    return (await conn.execute(sa.select(list_table).where(list_table.c.name == name))).first()


def _summaries() -> sa.Select[Any]:
    count = (
        sa.select(sa.func.count())
        .where(entry_table.c.list_id == list_table.c.id)
        .correlate(list_table)
        .scalar_subquery()
        .label("entries")
    )
    return sa.select(*list_table.c, count, users.c.extension.label("created_by_extension")).outerjoin(
        users, users.c.id == list_table.c.created_by
    )


async def find_summary(conn: AsyncConnection, list_id: int) -> Record | None:
    """The list with ``entries`` (its count) and ``created_by_extension``, or None."""
    return (await conn.execute(_summaries().where(list_table.c.id == list_id))).first()


async def list_(conn: AsyncConnection, *, offset: int = 0, limit: int | None = None) -> list[Record]:
    """Lists by name (all, or a page), each with ``entries`` (its count) and ``created_by_extension``."""
    query = _summaries().order_by(list_table.c.name, list_table.c.id).offset(offset)
    return list((await conn.execute(query if limit is None else query.limit(limit))).all())


async def update(conn: AsyncConnection, list_id: int, **values: Any) -> bool:
    """Set ``values`` (name, columns, updated_at); False when there is no such list."""
    result = await conn.execute(list_table.update().where(list_table.c.id == list_id).values(**values))
    return bool(result.rowcount)


async def delete(conn: AsyncConnection, list_id: int) -> bool:
    """Remove a list and its entries; False when there is no such list."""
    await conn.execute(entry_table.delete().where(entry_table.c.list_id == list_id))
    result = await conn.execute(list_table.delete().where(list_table.c.id == list_id))
    return bool(result.rowcount)


def _insert_new(conn: AsyncConnection) -> Any:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return insert(entry_table).on_conflict_do_nothing().returning(entry_table.c.number)


async def add_entries(
    conn: AsyncConnection, list_id: int, entries: Sequence[tuple[str, dict[str, str]]], *, now: datetime
) -> list[str]:
    """Insert ``(number, fields)`` pairs whose numbers are not in the list yet; the numbers actually inserted.

    The numbers in ``entries`` must be distinct."""
    if not entries:
        return []
    rows = [{"list_id": list_id, "number": n, "fields": f, "created_at": now} for n, f in entries]
    return list((await conn.execute(_insert_new(conn), rows)).scalars())


async def find_entry(conn: AsyncConnection, list_id: int, number: str) -> Record | None:
    """One entry (``number``, ``fields``, ``created_at`` …), or None when the number is not in the list."""
    query = sa.select(entry_table).where(entry_table.c.list_id == list_id, entry_table.c.number == number)
    return (await conn.execute(query)).first()


async def update_entry(conn: AsyncConnection, list_id: int, number: str, fields: dict[str, str]) -> bool:
    """Replace one entry's fields; False when the number is not in the list."""
    query = (
        entry_table.update()
        .where(entry_table.c.list_id == list_id, entry_table.c.number == number)
        .values(fields=fields)
    )
    return bool((await conn.execute(query)).rowcount)


async def remove_entry(conn: AsyncConnection, list_id: int, number: str) -> bool:
    """Remove one number from the list; False when it was not there."""
    query = entry_table.delete().where(entry_table.c.list_id == list_id, entry_table.c.number == number)
    return bool((await conn.execute(query)).rowcount)


async def remove_entries(conn: AsyncConnection, list_id: int, numbers: Sequence[str]) -> None:
    """Remove these numbers from the list, one primary-key delete each (no long ``IN`` list, see above)."""
    if numbers:
        query = entry_table.delete().where(
            entry_table.c.list_id == list_id, entry_table.c.number == sa.bindparam("entry_number")
        )
        await conn.execute(query, [{"entry_number": n} for n in numbers])


async def list_entries(conn: AsyncConnection, list_id: int, *, after: str | None, limit: int) -> list[Record]:
    """A page of entries by number, those after ``after`` (keyset pagination)."""
    query = sa.select(entry_table.c.number, entry_table.c.fields, entry_table.c.created_at).where(
        entry_table.c.list_id == list_id
    )
    if after is not None:
        query = query.where(entry_table.c.number > after)
    return list((await conn.execute(query.order_by(entry_table.c.number).limit(limit))).all())


async def iter_entries(db: Database, list_id: int, *, chunk: int = ITER_CHUNK) -> AsyncIterator[list[Record]]:
    """Every entry of a list (``number``, ``fields``, ``created_at``), in number order, ``chunk`` at a time.

    Each chunk is read in a short transaction of its own, so a campaign walking a 1,000,000-entry list neither
    holds a read snapshot open for the whole walk nor loads the list at once; entries added or removed meanwhile
    are seen or not depending on where the walk is."""
    after: str | None = None
    while True:
        async with db.read() as conn:
            rows = await list_entries(conn, list_id, after=after, limit=chunk)
        if rows:
            yield rows
        if len(rows) < chunk:
            return
        after = rows[-1].number
