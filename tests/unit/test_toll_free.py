"""Toll-free numbers (core/toll_free.py): what sending from one does until it is verified."""

from __future__ import annotations

import pytest

from parley.core.toll_free import TollFree, refusal

N = "+18005550100"


@pytest.mark.parametrize(
    ("state", "sent", "adding", "refused"),
    [
        (None, 10_000, 1, None),  # not toll-free
        (TollFree("verified", "refuse"), 10_000, 1, None),
        (TollFree("pending", "allow"), 10_000, 1, None),
        (TollFree("unverified", "refuse"), 0, 1, "sending from it is refused until it is verified"),
        (TollFree("rejected", "refuse"), 0, 1, "verification is rejected"),
        (TollFree("pending", "limit", 500), 499, 1, None),
        (TollFree("pending", "limit", 500), 499, 2, "at most 500 messages in 24 hours until it is verified"),
        (TollFree("pending", "limit", 500), 500, 1, "and 500 went already"),
    ],
)
def test_unverified_sending_follows_the_numbers_policy(
    state: TollFree | None, sent: int, adding: int, refused: str | None
) -> None:
    reason = refusal(N, state, sent, adding)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason and N in reason


def test_the_state_round_trips_and_reads_as_the_console_shows_it() -> None:
    state = TollFree("pending", "limit", 200, {"business_name": "ACME"})
    assert TollFree.from_doc(state.to_doc()) == state
    assert TollFree.from_doc(None) is None
    assert state.label() == "toll-free, pending (sending limited to 200 a day)"
    assert TollFree("verified").label() == "toll-free, verified"
