"""What every value from the outside must be before it reaches a use case or the database (the checks themselves are
pure, in `parley.core.values`; here are the FastAPI types that apply them).

PostgreSQL refuses a NUL character in text, a UTF-8 encoder refuses a lone surrogate (``"\\ud800"`` is valid JSON),
an ``integer`` column holds 32 bits, and Python's datetimes end at the year 9999 (so converting
``9999-12-31T23:59-01:00`` to UTC overflows). Each of those used to surface as a 500; the checks here turn them into
answers that name the field. The ASGI guard (``input_guard.py``) applies `text_problem` to every query string and
JSON or form body; `Instant` and `RowId` are the types of date and id parameters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator

from parley.core.values import EARLIEST as EARLIEST
from parley.core.values import INT32_MAX as INT32_MAX
from parley.core.values import LATEST as LATEST
from parley.core.values import instant as instant
from parley.core.values import json_problems as json_problems
from parley.core.values import text_problem as text_problem


def _instant(value: datetime) -> datetime:
    return instant(value)


Instant = Annotated[datetime, AfterValidator(_instant)]
"""An aware date and time between EARLIEST and LATEST, converted to UTC (a query parameter or a body field)."""

RowId = Annotated[int, Path(ge=1, le=INT32_MAX)]
"""A database row id in a URL path; out of range it names nothing, so the app answers 404 (see app.py)."""
