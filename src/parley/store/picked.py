"""``key IN (subquery)`` for a claim: the rows its subquery picked, looked up by key whatever the statistics say.

A claim picks rows in a subquery (ordered, limited, locked) and updates them by key. PostgreSQL turns ``IN
(subquery)`` into a join, and when the table's statistics say it is small, as a queue's usually do, it hashes the
picked keys and reads the whole table to find them: every claim read every row of a burst (5,020 jobs read to
update 200; webhook deliveries, their whole history). ``key = ANY(ARRAY(subquery))`` runs the subquery once and
looks each key up in the primary key's index. SQLite looks the keys up by index as it is (Parley never gives it
statistics: no ANALYZE), and has no arrays.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


def picked(conn: AsyncConnection, key: sa.ColumnElement[Any], subquery: sa.Select[Any]) -> sa.ColumnElement[bool]:
    """``key`` is one of the values ``subquery`` (one column: the key) returns."""
    if conn.dialect.name == "postgresql":
        return key == sa.any_(sa.func.array(subquery.scalar_subquery()))
    return key.in_(subquery.scalar_subquery())
