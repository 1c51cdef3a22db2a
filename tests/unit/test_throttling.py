"""The pure rules of password throttling: which counters refuse, which only slow, and when they are forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from parley.core.throttling import FORGET_AFTER, RULES, Counter, judge

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_a_pairs_wait_doubles_after_three_failures_and_is_capped() -> None:
    assert [RULES["pair"].wait_after(n).total_seconds() for n in range(6)] == [0, 0, 0, 5, 10, 20]
    assert RULES["pair"].wait_after(50) == timedelta(minutes=5)


def test_a_pair_inside_its_wait_is_refused_until_the_wait_is_over() -> None:
    verdict = judge([Counter("pair", 4, NOW - timedelta(seconds=3))], NOW)
    assert verdict.refused_until == NOW + timedelta(seconds=7)
    assert verdict.retry_after(NOW) == 7
    assert judge([Counter("pair", 4, NOW - timedelta(seconds=10))], NOW).refused_until is None


def test_an_extension_guessed_from_everywhere_is_only_slowed_and_never_for_long() -> None:
    verdict = judge([Counter("subject", 10_000, NOW)], NOW)
    assert verdict.refused_until is None
    assert timedelta(0) < verdict.delay <= timedelta(seconds=2)


def test_the_longest_wait_wins() -> None:
    counters = [Counter("pair", 3, NOW), Counter("address", 12, NOW), Counter("subject", 30, NOW)]
    verdict = judge(counters, NOW)
    assert verdict.refused_until == NOW + RULES["address"].wait_after(12)
    assert verdict.delay == timedelta(0)  # refused: there is nothing to delay


def test_a_counter_is_forgotten_fifteen_minutes_after_its_last_failure() -> None:
    assert judge([Counter("subject", 500, NOW - FORGET_AFTER + timedelta(seconds=1))], NOW).delay > timedelta(0)
    assert judge([Counter("subject", 500, NOW - FORGET_AFTER)], NOW).delay == timedelta(0)
