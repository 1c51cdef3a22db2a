"""Campaign sending hours in the recipient's local time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from parley.core.sending_hours import SendingHours, next_allowed, parse_sending_hours, recipient_zone

NINE_TO_EIGHT = parse_sending_hours({"from": "09:00", "to": "20:00"})


@pytest.mark.parametrize(
    ("number", "zone"),
    [
        pytest.param("+442079460000", "Europe/London", id="london"),
        pytest.param("+390612345678", "Europe/Rome", id="rome"),
        pytest.param("+12125551234", "America/New_York", id="new-york"),
        pytest.param("+15551234567", "UTC", id="fictional-555-takes-the-default"),
    ],
)
def test_the_zone_is_read_from_the_number(number: str, zone: str) -> None:
    assert recipient_zone(number, "UTC") == zone


def test_inside_the_hours_a_message_may_go_now() -> None:
    noon_rome = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # 12:00 in Rome
    assert next_allowed(NINE_TO_EIGHT, "Europe/Rome", noon_rome) is None


def test_after_hours_it_waits_until_the_next_local_opening() -> None:
    late_rome = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)  # 22:30 in Rome
    assert next_allowed(NINE_TO_EIGHT, "Europe/Rome", late_rome) == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_before_hours_it_waits_until_the_same_days_opening() -> None:
    early_ny = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # 07:00 in New York
    assert next_allowed(NINE_TO_EIGHT, "America/New_York", early_ny) == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def test_hours_may_cross_midnight() -> None:
    night = SendingHours(*parse_sending_hours({"from": "20:00", "to": "02:00"}).__dict__.values())
    assert next_allowed(night, "UTC", datetime(2026, 11, 24, 1, 0, tzinfo=UTC)) is None
    assert next_allowed(night, "UTC", datetime(2026, 11, 24, 3, 0, tzinfo=UTC)) == datetime(
        2026, 11, 24, 20, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        pytest.param({"from": "9am", "to": "20:00"}, 'hours.from: "9am" is not a time like 09:00', id="bad-from"),
        pytest.param({"from": "09:00"}, "hours.to: is required", id="missing-to"),
        pytest.param({"from": "09:00", "to": "09:00"}, "hours: from and to must differ", id="empty"),
    ],
)
def test_bad_hours_name_the_field(doc: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_sending_hours(doc)
