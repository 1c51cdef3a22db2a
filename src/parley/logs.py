"""Structured logs (structlog) to stderr, with no secret in them, and `Failures`: a failure that repeats is logged
once, then counted.

Tracebacks are plain (structlog's rich formatter would print every frame's local variables: the SMS password
of a Mail2SMS request, a transport's Authorization header) and, like every field, pass through
`core.redaction` before they are written; the standard library's records (uvicorn, asyncio) too.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import structlog

from parley.core.redaction import MASK, is_secret_key, redact


def redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: mask fields named like secrets and secrets inside every text field."""
    for key, value in event.items():
        if is_secret_key(key) and value not in (None, ""):
            event[key] = MASK
        elif isinstance(value, str):
            event[key] = redact(value)
        elif not isinstance(value, int | float | bool | type(None)):
            event[key] = redact(repr(value))
    return event


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(level: str = "info") -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    logging.basicConfig(level=numeric, format="%(message)s")
    # Alembic logs its plugins and each migration step at INFO on every start: Parley's own lines are enough.
    logging.getLogger("alembic").setLevel(max(numeric, logging.WARNING))
    for handler in logging.getLogger().handlers:
        handler.setFormatter(RedactingFormatter("%(message)s"))
    # aiosmtpd echoes every SMTP command at INFO, an AUTH line's base64 credentials included.
    logging.getLogger("mail.log").setLevel(max(numeric, logging.WARNING))
    configure_structlog(numeric)


def configure_structlog(numeric: int) -> None:
    """Parley's own log lines (structlog) from level ``numeric`` up, redacted and rendered as plain text."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # Plain tracebacks: structlog's default (rich, with every frame's locals) printed ~5,000 lines for one
            # failed batch insert (its parameters, its rows), and locals may hold passwords.
            structlog.processors.format_exc_info,  # the traceback becomes text, which is redacted next
            redact_secrets,
            structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
    )


@dataclass
class _Cause:
    last_seen: float
    reported: float  # when the traceback or the last count was logged
    unreported: int = 0  # occurrences since then


class Failures:
    """Logs the failures of a loop that may hit the same one again and again (a message that cannot be stored,
    routed or sent; a campaign that cannot advance): the traceback the first time a cause is seen, then at most one
    line per ``interval`` seconds with how many times it happened since. A cause is the event with the exception's
    type and the place it was raised; one unseen for ``forget`` seconds is new again.

    Call `exception` in an ``except`` block (or pass the exception).
    """

    def __init__(
        self,
        logger: Any = None,
        *,
        interval: float = 60.0,
        forget: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        max_causes: int = 1000,
    ) -> None:
        self._log = logger if logger is not None else structlog.get_logger()
        self._interval = interval
        self._forget = forget
        self._clock = clock
        self._max_causes = max_causes
        self._causes: dict[tuple[str, ...], _Cause] = {}

    def exception(self, event: str, exc: BaseException | None = None, **fields: Any) -> None:
        """Log ``exc`` (default: the one being handled) under ``event``, with its traceback if its cause is new."""
        exc = exc if exc is not None else sys.exc_info()[1]
        if exc is None:
            self._log.error(event, **fields)
            return
        key = (event, *cause_of(exc))
        now = self._clock()
        cause = self._causes.get(key)
        if cause is None or now - cause.last_seen >= self._forget:
            if len(self._causes) >= self._max_causes:
                self._causes.pop(next(iter(self._causes)))  # the oldest cause
            self._causes[key] = _Cause(last_seen=now, reported=now)
            self._log.error(event, exc_info=exc, **fields)
            return
        cause.last_seen = now
        cause.unreported += 1
        if now - cause.reported >= self._interval:
            self._log.error(
                event,
                error=one_line(exc),
                repeated=cause.unreported,
                seconds=round(now - cause.reported),
                **fields,
            )
            cause.reported, cause.unreported = now, 0


def cause_of(exc: BaseException) -> tuple[str, str]:
    """The exception's type and where it was raised (innermost frame): the same bug, whatever the data."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ is not None else []
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else str(exc)[:200]
    return f"{type(exc).__module__}.{type(exc).__qualname__}", where


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: message``, first line only, at most ``limit`` characters (for a count line or a stored reason)."""
    text = str(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"
