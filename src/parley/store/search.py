"""Text search in SQL: what the user typed, found anywhere in a column, whatever the case."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def contains(column: Any, term: str) -> sa.ColumnElement[bool]:
    """``column`` contains ``term`` ignoring case; ``%`` and ``_`` are plain characters, not wildcards."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result: sa.ColumnElement[bool] = column.ilike(f"%{escaped}%", escape="\\")
    return result
