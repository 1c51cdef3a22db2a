"""What every value from the outside must be before it reaches a use case or the database. Pure.

PostgreSQL refuses a NUL character in text, a UTF-8 encoder refuses a lone surrogate (``"\\ud800"`` is valid JSON),
an ``integer`` column holds 32 bits, and Python's datetimes end at the year 9999 (so converting
``9999-12-31T23:59-01:00`` to UTC overflows). Each of those used to surface as a 500; the checks here turn them into
answers that name the field. Ingress applies them (`parley.ingress.inputs`, `input_guard.py`); channels that parse
what providers post apply them too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

INT32_MAX = 2**31 - 1  # the largest value of an `integer` column (PostgreSQL; SQLAlchemy `Integer`)
# Dates outside these are typing mistakes or probes; inside them date arithmetic (backoff, timers, time zones) is safe.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if not value.isascii():
        try:
            value.encode("utf-8")  # fails exactly on a lone surrogate, at C speed
        except UnicodeEncodeError:
            return "must not contain lone UTF-16 surrogates (not Unicode text)"
    return None


def json_problems(value: Any, loc: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(location, problem) for every string (object keys included) in a decoded JSON value that `text_problem`
    refuses; the location is the path of keys and indexes down to it."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [(loc, value)]
    while stack:  # iterative: a hostile body may nest deeper than Python's recursion limit
        where, item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                yield where, problem
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                problem = text_problem(key)
                if problem is not None:
                    yield (*where, key), f"key {problem}"
                stack.append(((*where, key), child))
        elif isinstance(item, list):
            stack.extend(((*where, i), child) for i, child in reversed(list(enumerate(item))))


def instant(value: datetime, *, field_hint: str = "") -> datetime:
    """``value`` in UTC; ValueError when it has no time zone or lies outside EARLIEST … LATEST."""
    example = "e.g. 2026-12-01T09:30:00+01:00 or …Z"
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field_hint}must include a time zone, {example}")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValueError(f"{field_hint}must be between the years {EARLIEST.year} and {LATEST.year - 1}")
    return utc
