"""Logging a failure that repeats: one traceback per cause, then counts (issue 9 §1: 5,000-line tracebacks)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import structlog

from parley.logs import Failures, configure_logging


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _logger(out: io.StringIO) -> structlog.typing.FilteringBoundLogger:
    return structlog.wrap_logger(  # type: ignore[no-any-return]
        structlog.PrintLogger(out),
        processors=[
            structlog.processors.add_log_level,
            structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback),
        ],
    )


def _fail(row: int) -> None:
    secret_rows = [{"body": "x" * 1000}] * 500  # what a rich traceback with locals used to print, 500 times
    raise ValueError(f"row {row} refused ({len(secret_rows)} rows)")


def test_the_same_failure_repeated_100_times_logs_one_traceback_plus_counts() -> None:
    out, clock = io.StringIO(), Ticker()
    failures = Failures(_logger(out), interval=60.0, clock=clock)
    for row in range(100):
        clock.now = float(row)
        try:
            _fail(row)
        except ValueError:
            failures.exception("router.message_failed", message=f"m{row}")
    text = out.getvalue()
    assert text.count("Traceback (most recent call last)") == 1
    assert "row 0 refused" in text  # the first one, whole
    counts = [line for line in text.splitlines() if "repeated=" in line]
    assert len(counts) == 1 and "repeated=60" in counts[0] and "row 60 refused" in counts[0]
    assert len(text.splitlines()) < 30
    assert "xxxxxxxxxx" not in text  # no locals


def test_another_cause_gets_its_own_traceback() -> None:
    out = io.StringIO()
    failures = Failures(_logger(out), clock=Ticker())
    for exc in (ValueError("a"), KeyError("b"), ValueError("a")):
        try:
            raise exc
        except Exception:
            failures.exception("campaign.tick_failed")
    assert out.getvalue().count("Traceback (most recent call last)") == 2


def test_a_cause_not_seen_for_a_while_is_logged_whole_again() -> None:
    out, clock = io.StringIO(), Ticker()
    failures = Failures(_logger(out), forget=600.0, clock=clock)
    for at in (0.0, 1.0, 700.0):
        clock.now = at
        try:
            _fail(1)
        except ValueError:
            failures.exception("smpp.deliver_callback_failed")
    assert out.getvalue().count("Traceback (most recent call last)") == 2


@pytest.fixture
def configured() -> Iterator[None]:
    configure_logging("info")
    yield
    structlog.reset_defaults()


def test_the_server_logs_plain_tracebacks_without_locals(configured: None, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        _fail(1)
    except ValueError:
        structlog.get_logger().exception("boom")
    text = capsys.readouterr().out
    assert "Traceback (most recent call last)" in text and "ValueError: row 1 refused" in text
    assert "xxxxxxxxxx" not in text
    assert len(text.splitlines()) < 15
