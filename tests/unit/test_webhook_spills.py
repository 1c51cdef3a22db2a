"""`services.webhook_spills.Spills`: which (receiver, subject) pairs have deliveries waiting for a claim."""

from __future__ import annotations

import pytest

from parley.services import webhook_spills
from parley.services.webhook_spills import Spills

A, B = ("endpoint", "whe_a"), ("endpoint", "whe_b")


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("left", "claimed", "waiting", "targets"),
    [
        pytest.param([], [], [], [], id="nothing"),
        pytest.param([(A, "m1")], [], [(A, "m1")], [A], id="one left"),
        pytest.param([(A, "m1")], [(A, "m1")], [], [], id="left then claimed"),
        pytest.param([(A, "m1"), (A, "m1")], [(A, "m1")], [(A, "m1")], [A], id="two left, one claimed"),
        pytest.param([(A, "m1"), (B, "m1")], [(A, "m1")], [(B, "m1")], [B], id="per receiver"),
        pytest.param([(A, "m1"), (A, "m2")], [(A, "m2")], [(A, "m1")], [A], id="per subject"),
        pytest.param([], [(A, "m1")], [], [], id="claimed, never left here (another process's)"),
    ],
)
def test_pairs_wait_until_claims_bring_what_was_left(
    left: list[tuple[tuple[str, str], str]],
    claimed: list[tuple[tuple[str, str], str]],
    waiting: list[tuple[tuple[str, str], str]],
    targets: list[tuple[str, str]],
) -> None:
    spills = Spills(horizon=60)
    for pair in left:
        spills.left(pair)
    for pair in claimed:
        spills.claimed(pair)
    every = [(t, s) for t in (A, B) for s in ("m1", "m2")]
    assert [p for p in every if p in spills] == waiting
    assert [t for t in (A, B) if spills.of(t)] == targets


def test_a_pair_is_forgotten_a_horizon_after_its_last_delivery_was_left() -> None:
    ticks = Ticks()
    spills = Spills(horizon=60, monotonic=ticks)
    spills.left((A, "m1"))
    ticks.now += 50
    spills.left((A, "m1"))  # the horizon counts from this one
    ticks.now += 50
    assert (A, "m1") in spills
    ticks.now += 11
    assert (A, "m1") not in spills
    assert not spills.of(A)


def test_the_table_is_bounded_and_the_oldest_go_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook_spills, "MOST", 3)
    spills = Spills(horizon=60)
    for subject in ("m1", "m2", "m3"):
        spills.left((A, subject))
    spills.left((A, "m1"))  # left again: now the newest
    spills.left((A, "m4"))
    assert [s for s in ("m1", "m2", "m3", "m4") if (A, s) in spills] == ["m1", "m3", "m4"]
    assert spills.of(A)
