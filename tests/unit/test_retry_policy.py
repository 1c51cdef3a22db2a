"""RetryPolicy: pure decisions about what happens after a failed hand-over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from parley.core.delivery import GiveUp, Rejected, Retry, RetryPolicy, Throttled, TimedOut, Unreachable

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [
        pytest.param(1, 2, id="first"),
        pytest.param(2, 4, id="second"),
        pytest.param(5, 32, id="fifth"),
        pytest.param(30, 600, id="capped"),
    ],
)
def test_throttled_submit_is_retried_with_exponential_backoff(attempts: int, seconds: int) -> None:
    decision = RetryPolicy().decide(Throttled("ESME_RTHROTTLED"), attempts, NOW, NOW)
    assert decision == Retry(NOW + timedelta(seconds=seconds))


def test_an_unreachable_peer_is_retried_at_least_every_thirty_seconds() -> None:
    decision = RetryPolicy().decide(Unreachable("connection refused"), 12, NOW, NOW)
    assert decision == Retry(NOW + timedelta(seconds=30))


def test_a_permanent_rejection_fails_at_once_with_the_carriers_reason() -> None:
    decision = RetryPolicy().decide(Rejected("ESME_RINVDSTADR (0x0000000B)", "0xb"), 1, NOW, NOW)
    assert decision == GiveUp("ESME_RINVDSTADR (0x0000000B)")


def test_transient_failures_give_up_after_the_give_up_time() -> None:
    policy = RetryPolicy(give_up_after=timedelta(hours=1))
    first = NOW - timedelta(minutes=59)
    decision = policy.decide(TimedOut("no submit_sm_resp"), 9, first, NOW)
    assert isinstance(decision, GiveUp)
    assert "no submit_sm_resp" in decision.reason


@pytest.mark.parametrize("attempts", [47, 100, 2880], ids=["past-timedelta", "hundred", "a-day-at-30s"])
def test_a_peer_down_for_many_attempts_is_still_retried_at_the_cap(attempts: int) -> None:
    """2 s · 2^46 is beyond what a timedelta holds: the cap applies before the backoff becomes one."""
    policy = RetryPolicy()
    assert policy.decide(Unreachable("down"), attempts, NOW, NOW) == Retry(NOW + timedelta(seconds=30))
    assert policy.decide(Throttled("slow down"), attempts, NOW, NOW) == Retry(NOW + timedelta(minutes=10))
