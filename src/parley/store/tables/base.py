"""What every table module shares: the one ``metadata`` (with the naming convention that gives constraints and
indexes their names), the ``UtcDateTime`` column type, and ``Record``, the type of a result row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

# A result row: columns by attribute (``row.status``). SQLAlchemy's own Row type is variadic and adds
# nothing here but noise.
Record = Any


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (stored naive UTC; SQLite has no time zones)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if type(value) is datetime and value.tzinfo is None:  # what both drivers give: the usual case, first
            return value.replace(tzinfo=UTC)
        if isinstance(value, str):  # pragma: no cover - raw SQLite reads
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
