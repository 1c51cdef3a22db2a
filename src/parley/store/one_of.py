"""``column IN (values)`` (and ``NOT IN``) that stays one statement on PostgreSQL whatever the number of values.

SQLAlchemy renders an IN list as one bound parameter per value, and asyncpg prepares every distinct statement text
anew: each batch size became a statement of its own, and rendering thousands of parameters cost a tenth of the send
path's CPU (issue 15). On PostgreSQL ``column = ANY(:array)`` binds the whole list as one array parameter instead;
SQLite has no arrays and keeps the IN list (callers chunk the values under its parameter limit).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection


def one_of(conn: AsyncConnection, column: sa.ColumnElement[Any], values: Iterable[Any]) -> sa.ColumnElement[bool]:
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(list(values))


def none_of(conn: AsyncConnection, column: sa.ColumnElement[Any], values: Iterable[Any]) -> sa.ColumnElement[bool]:
    """``column NOT IN (values)``: on PostgreSQL ``column <> ALL(:array)``, one statement whatever their number."""
    if conn.dialect.name == "postgresql":
        return column != sa.all_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.not_in(list(values))
