"""``column IN (values)`` (and ``NOT IN``) that stays one statement on PostgreSQL whatever the number of values.

SQLAlchemy renders an IN list as one bound parameter per value, and asyncpg prepares every distinct statement text
anew: each batch size became a statement of its own, and rendering thousands of parameters cost a tenth of the send
path's CPU (issue 15). On PostgreSQL ``column = ANY(:array)`` binds the whole list as one array parameter instead;
SQLite has no arrays and keeps the IN list (callers chunk the values under its parameter limit).

**Planned once.** PostgreSQL plans a prepared statement afresh at each call while a plan made for the call's own
values looks cheaper than its generic plan, and one made for an array it can see the length of always does for a
few values: the set-wise statements of the receipt and status paths were planned again at nearly every call,
about 15 % of PostgreSQL's CPU under load (docs/benchmarks.md, session 12). An array bound as a one-row subquery
(``CAST((SELECT :array) AS type[])``, an InitPlan) has no length the planner can see, so after five calls
PostgreSQL keeps the generic plan (on a table of some size the same plan: a nested loop on the key). `one_of` and
`none_of` bind so, and `planned_once` rewrites a hand-written statement's ``CAST(:name AS type[])`` so. The outer
CAST matters: without it ``= ANY((SELECT …))`` compares with the subquery's rows, not with the array's elements.
A generic plan made while a table was nearly empty scans it whole; it is made again as the table grows, after an
ANALYZE or at the latest `store.db.PLAN_SECONDS` later (session 13: without that, on a server with autovacuum off,
the first plans were kept and PostgreSQL's CPU per message rose instead of falling).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection


def one_of(conn: AsyncConnection, column: sa.ColumnElement[Any], values: Iterable[Any]) -> sa.ColumnElement[bool]:
    """``column IN (values)``: on PostgreSQL ``column = ANY((SELECT :array))``, one statement planned once."""
    if conn.dialect.name == "postgresql":
        return column == sa.any_(_array(column, values))
    return column.in_(list(values))


def none_of(conn: AsyncConnection, column: sa.ColumnElement[Any], values: Iterable[Any]) -> sa.ColumnElement[bool]:
    """``column NOT IN (values)``: on PostgreSQL ``column <> ALL((SELECT :array))``, one statement planned once."""
    if conn.dialect.name == "postgresql":
        return column != sa.all_(_array(column, values))
    return column.not_in(list(values))


def _array(column: sa.ColumnElement[Any], values: Iterable[Any]) -> sa.ColumnElement[Any]:
    """The values as one array parameter behind a one-row subquery (kept an array expression by the CAST)."""
    kind = postgresql.ARRAY(column.type)
    return sa.cast(sa.select(sa.bindparam(None, list(values), type_=kind)).scalar_subquery(), kind)


_ARRAY_BIND = re.compile(r"CAST\((:\w+) AS ([A-Za-z][A-Za-z0-9 ]*(?:\([0-9, ]+\))?)\[\]\)")


def planned_once(sql: str) -> str:
    """A hand-written PostgreSQL statement with each ``CAST(:name AS type[])`` bound behind a one-row subquery."""
    return _ARRAY_BIND.sub(r"CAST((SELECT CAST(\1 AS \2[])) AS \2[])", sql)
