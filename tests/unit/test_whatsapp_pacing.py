"""Pacing WhatsApp campaign messages: the number's throughput and the 6-second gap per customer."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.whatsapp_pacing import CUSTOMER_GAP, HORIZON, due_times, interval, room

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("recipients", "rate", "tail", "last_to", "expected"),
    [
        pytest.param(["+1", "+2", "+3"], 2, None, {}, {"+1": s(0), "+2": s(0.5), "+3": s(1)}, id="empty-queue"),
        pytest.param(["+1", "+2"], 1, s(10), {}, {"+1": s(11), "+2": s(12)}, id="after-the-queued-tail"),
        pytest.param(["+1", "+2"], 1, s(-30), {}, {"+1": s(0), "+2": s(1)}, id="a-tail-in-the-past-is-now"),
        pytest.param(
            ["+1", "+2", "+3"], 10, None, {"+1": s(-1)}, {"+2": s(0), "+3": s(0.1), "+1": s(5)},
            id="a-customer-written-a-second-ago-waits-for-the-gap",
        ),
        pytest.param(["+1"], 10, None, {"+1": s(-6)}, {"+1": s(0)}, id="a-gap-already-over"),
        pytest.param(
            ["+1", "+2"], 1, s(3), {"+1": s(3)}, {"+2": s(4), "+1": s(9)}, id="both-rules-at-once",
        ),
        pytest.param(
            ["+1", "+2"], 1, None, {"+1": s(4), "+2": s(4)}, {"+1": s(10), "+2": s(11)},
            id="two-held-customers-still-an-interval-apart",
        ),
    ],
)  # fmt: skip
def test_due_times(
    recipients: list[str],
    rate: float,
    tail: datetime | None,
    last_to: dict[str, datetime],
    expected: dict[str, datetime],
) -> None:
    assert due_times(recipients, now=NOW, rate=rate, tail=tail, last_to=last_to) == expected


@pytest.mark.parametrize(
    ("rate", "tail", "expected"),
    [
        pytest.param(1, None, 61, id="nothing-queued"),
        pytest.param(80, None, 4801, id="default-rate"),
        pytest.param(1, s(30), 30, id="half-the-horizon-queued"),
        pytest.param(1, s(59), 1, id="one-slot-left"),
        pytest.param(1, s(60), 0, id="full"),
        pytest.param(1, s(600), 0, id="far-ahead"),
    ],
)
def test_room_keeps_the_queue_within_the_horizon(rate: float, tail: datetime | None, expected: int) -> None:
    assert room(rate, tail, NOW) == expected


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate"):
        interval(0)
    assert interval(80) == timedelta(milliseconds=12.5)
    assert interval(10_000_000) == timedelta(milliseconds=1)


@given(
    st.dictionaries(
        st.from_regex(r"\+1[0-9]{3}", fullmatch=True), st.integers(min_value=-20_000, max_value=20_000), max_size=40
    ),
    st.integers(min_value=1, max_value=200),
    st.one_of(st.none(), st.integers(min_value=-20_000, max_value=20_000)),
)
def test_any_batch_keeps_both_limits(last_ms: dict[str, int], rate: int, tail_ms: int | None) -> None:
    recipients = sorted(last_ms)
    last_to = {r: NOW + timedelta(milliseconds=ms) for r, ms in last_ms.items() if ms % 3}  # some without a last
    tail = NOW + timedelta(milliseconds=tail_ms) if tail_ms is not None else None
    due = due_times(recipients, now=NOW, rate=rate, tail=tail, last_to=last_to)
    assert set(due) == set(recipients)
    times = sorted(due.values())
    assert all(b - a >= interval(rate) for a, b in itertools.pairwise(times))
    assert all(t >= NOW for t in times)
    assert tail is None or all(t >= tail + interval(rate) for t in times)
    assert all(due[r] >= last_to[r] + CUSTOMER_GAP for r in last_to)
    assert room(rate, max(times, default=tail), NOW) <= HORIZON / interval(rate) + 1
