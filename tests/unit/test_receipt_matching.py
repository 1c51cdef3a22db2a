"""Which message part a delivery receipt is for, when carrier ids repeat (core.receipts.choose_part)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from parley.core.receipts import Apply, Candidate, Discard, Wait, choose_part

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
WINDOW, RACE = timedelta(days=7), timedelta(minutes=2)


def part(mid: str, age: timedelta, state: str | None = None) -> Candidate:
    return Candidate(mid, 0, NOW - age, state)


def choose(candidates: list[Candidate], received_at: datetime = NOW, now: datetime = NOW) -> object:
    return choose_part(received_at, candidates, now, window=WINDOW, race=RACE)


def test_the_newest_part_still_waiting_for_its_receipt_gets_it() -> None:
    old = part("old", timedelta(days=2))
    new = part("new", timedelta(seconds=5))
    assert choose([old, new]) == Apply(new)


def test_a_waiting_part_is_preferred_to_a_newer_one_that_already_has_its_final_state() -> None:
    waiting = part("waiting", timedelta(hours=3))
    final = part("final", timedelta(seconds=5), "delivered")
    assert choose([waiting, final]) == Apply(waiting)


def test_an_intermediate_state_keeps_a_part_waiting_for_its_final_receipt() -> None:
    enroute = part("enroute", timedelta(minutes=1), "accepted")
    assert choose([enroute]) == Apply(enroute)


def test_a_receipt_that_finds_only_final_parts_waits_for_a_newer_part_before_it_is_discarded() -> None:
    final = part("yesterday", timedelta(days=1), "delivered")
    assert choose([final]) == Wait()
    later = NOW + RACE + timedelta(seconds=1)
    assert isinstance(choose([final], now=later), Discard)


def test_a_receipt_with_no_part_waits_then_is_discarded() -> None:
    assert choose([]) == Wait()
    assert isinstance(choose([], now=NOW + RACE + timedelta(seconds=1)), Discard)


def test_a_part_recorded_shortly_after_the_receipt_is_its_part_in_the_race() -> None:
    raced = Candidate("raced", 0, NOW + timedelta(seconds=3), None)
    assert choose([raced], now=NOW + timedelta(seconds=3)) == Apply(raced)


def test_parts_outside_the_window_are_never_a_receipts() -> None:
    too_old = part("too-old", WINDOW + timedelta(hours=1))
    too_late = Candidate("too-late", 0, NOW + RACE + timedelta(seconds=1), None)
    assert choose([too_old, too_late], now=NOW + RACE + timedelta(seconds=2)) == Discard(
        "no part with this id was recorded in time"
    )


def test_a_read_receipt_still_goes_to_a_part_that_was_delivered() -> None:
    delivered = part("wa", timedelta(minutes=5), "delivered")
    assert choose_part(NOW, [delivered], NOW, window=WINDOW, race=RACE, state="read") == Apply(delivered)
    assert choose_part(NOW, [delivered], NOW, window=WINDOW, race=RACE, state="delivered") == Wait()


def test_read_is_the_last_state_and_delivered_never_overwrites_it() -> None:
    from parley.core.receipts import advance, message_status

    assert message_status("delivered", ["read"]) == "read"
    assert message_status("sent", ["read", "delivered"]) == "delivered"
    assert message_status("read", ["delivered"]) is None
    assert advance("read", "delivered") == "read"
    assert advance("delivered", "read") == "read"
