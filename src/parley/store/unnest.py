"""Set-wise UPDATE of many rows by key on PostgreSQL: one statement with one array per column.

An executemany runs SQLAlchemy's parameter processing for every value of every row and the statement once per row
on the server; the send path updates three statuses per message (sending, sent, delivered), so that was a large
share of its CPU (issue 15). ``UPDATE … FROM unnest(:a, :b, …)`` binds each column as one array (asyncpg encodes
it in C) and runs once. SQLite has no arrays: there it is the same UPDATE as an executemany, so callers need not
ask which database they are on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.store.one_of import planned_once

_cache: dict[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], sa.TextClause] = {}


def _statement(
    conn: AsyncConnection, table: sa.Table, keys: tuple[str, ...], columns: tuple[str, ...], fixed: tuple[str, ...]
) -> sa.TextClause:
    """UPDATE table SET col = v.col, …, fixed = :f_fixed FROM unnest(…) AS v(keys…, columns…) WHERE keys match."""
    found = _cache.get((table.name, keys, columns, fixed))
    if found is not None:
        return found
    names = (*keys, *columns)
    # Each array behind a one-row subquery, so that PostgreSQL keeps one plan for the statement (`store.one_of`).
    arrays = planned_once(
        ", ".join(f"CAST(:a_{n} AS {table.c[n].type.compile(dialect=conn.dialect)}[])" for n in names)
    )
    sets = [f"{c} = v.{c}" for c in columns] + [f"{c} = :f_{c}" for c in fixed]
    where = " AND ".join(f"{table.name}.{k} = v.{k}" for k in keys)
    statement = sa.text(
        # Only names of the table's own columns (looked up in table.c above) go into the text; values are bound.
        f"UPDATE {table.name} SET {', '.join(sets)} FROM unnest({arrays}) AS v({', '.join(names)}) WHERE {where}"  # noqa: S608
    ).bindparams(*(sa.bindparam(f"f_{c}", type_=table.c[c].type) for c in fixed))
    _cache[(table.name, keys, columns, fixed)] = statement
    return statement


async def update_rows(
    conn: AsyncConnection,
    table: sa.Table,
    keys: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    fixed: Mapping[str, Any] | None = None,
) -> None:
    """Set each row's other columns on the row of ``table`` its ``keys`` name (each row has the same columns;
    a key given twice: the last row wins), and the ``fixed`` values on all of them."""
    if not rows:
        return
    last = {tuple(r[k] for k in keys): r for r in rows}
    columns = tuple(c for c in rows[0] if c not in keys)
    fixed = fixed or {}
    if conn.dialect.name != "postgresql":
        # Bind names apart from the column names (SQLAlchemy refuses a bind named like a column it sets).
        each = table.update().where(*(table.c[k] == sa.bindparam(f"k_{k}") for k in keys))
        each = each.values({c: sa.bindparam(f"v_{c}") for c in columns} | dict(fixed))
        rows_params = [{f"k_{k}": r[k] for k in keys} | {f"v_{c}": r[c] for c in columns} for r in last.values()]
        await conn.execute(each, rows_params)
        return
    statement = _statement(conn, table, tuple(keys), columns, tuple(fixed))
    params = {f"a_{n}": [r[n] for r in last.values()] for n in (*keys, *columns)}
    await conn.execute(statement, {**params, **{f"f_{c}": v for c, v in fixed.items()}})
