"""The rules for joining concatenated MO parts (core/concat.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from parley.core.concat import GAP, Part, complete, impossible, is_copy, join, same_message

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def part(seq: int, total: int = 3, text: str | None = None, age: timedelta = timedelta(0), to: str = "+1") -> Part:
    return Part(seq, total, to, text if text is not None else f"<{seq}>", NOW - age)


@pytest.mark.parametrize(
    ("total", "seq", "problem"),
    [
        pytest.param(2, 5, "part 5 of 2", id="number-above-total"),
        pytest.param(0, 1, "part 1 of 0", id="total-zero"),
        pytest.param(3, 0, "part 0 of 3", id="part-zero"),
        pytest.param(3, 3, None, id="last-part"),
        pytest.param(1, 1, None, id="one-part"),
    ],
)
def test_impossible_headers_are_named(total: int, seq: int, problem: str | None) -> None:
    found = impossible(total, seq)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_parts_join_in_order_whatever_order_they_came_in() -> None:
    held = [part(3), part(1), part(2)]
    assert complete(held)
    assert join(held) == ("<1><2><3>", None)


def test_an_incomplete_message_shows_where_parts_are_missing_and_says_which_arrived() -> None:
    text, note = join([part(1, 4), part(3, 4)])
    assert text == f"<1>{GAP}<3>{GAP}"
    assert note == "incomplete: parts 1, 3 of 4 arrived"
    assert join([part(2, 3)]) == (f"{GAP}<2>{GAP}", "incomplete: part 2 of 3 arrived")


@pytest.mark.parametrize(
    ("held", "arriving", "same"),
    [
        pytest.param([part(1)], part(2), True, id="next-part"),
        pytest.param([part(1)], part(1), True, id="a-copy"),
        pytest.param([part(1, age=DAY + timedelta(seconds=1))], part(2), False, id="held-part-went-stale"),
        pytest.param([part(1, total=2)], part(2, total=3), False, id="other-total"),
        pytest.param([part(1, to="+1")], part(2, to="+2"), False, id="other-recipient"),
        pytest.param([part(1, text="old")], part(1, text="new"), False, id="same-number-other-text"),
    ],
)
def test_held_parts_are_one_message_with_an_arriving_part_only_when_nothing_says_otherwise(
    held: list[Part], arriving: Part, same: bool
) -> None:
    assert same_message(held, arriving, now=NOW, expiry=DAY) is same


def test_a_part_held_already_is_a_copy_and_not_counted_twice() -> None:
    assert is_copy([part(1)], part(1))
    assert not is_copy([part(1)], part(2))
    assert not complete([part(1), part(1), part(2)])
