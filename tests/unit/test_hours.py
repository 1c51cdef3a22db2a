"""Working hours: reading the rules, open or closed at an instant, and when that next changes (DST included)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.core.hours import HoursError, HoursRule, WorkingHours, hours_to_doc, is_open, next_change, parse_hours

ROME = ZoneInfo("Europe/Rome")
NEW_YORK = ZoneInfo("America/New_York")

# Office hours on weekdays with a lunch break, a Friday night shift, and all of Sunday.
OFFICE = parse_hours(
    {
        "timezone": "Europe/Rome",
        "rules": [
            {"days": ["mon-fri"], "ranges": ["09:00-13:00", "14:00-18:00"]},
            {"days": ["fri"], "ranges": ["22:00-02:00"]},
            {"days": ["sun"], "ranges": ["00:00-24:00"]},
        ],
    }
)


def rome(day: int, hour: int, minute: int = 0) -> datetime:
    """A wall time in Rome in the week of Monday 3 June 2024 (day 3 is that Monday)."""
    return datetime(2024, 6, day, hour, minute, tzinfo=ROME)


# -- reading ---------------------------------------------------------------------------------------------------------


def test_the_documented_shape_is_read_into_rules() -> None:
    hours = parse_hours(
        {
            "timezone": "Europe/Rome",
            "rules": [{"days": ["mon", "tue", "wed"], "ranges": ["09:00-13:00", "14:00-18:00"]}],
        }
    )
    assert hours == WorkingHours(
        timezone="Europe/Rome",
        rules=(HoursRule(frozenset({0, 1, 2}), ((time(9), time(13)), (time(14), time(18)))),),
    )


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        pytest.param(["mon-fri"], {0, 1, 2, 3, 4}, id="weekday-span"),
        pytest.param(["sat-mon"], {5, 6, 0}, id="span-wrapping-the-week"),
        pytest.param(["MON", "Wed"], {0, 2}, id="any-case"),
        pytest.param(["friday", " sun "], {4, 6}, id="full-names-and-spaces"),
        pytest.param(["mon", "mon-tue"], {0, 1}, id="overlaps-merge"),
        pytest.param(["wed-wed"], {2}, id="one-day-span"),
    ],
)
def test_day_names_and_spans_are_read_as_weekdays(days: list[str], expected: set[int]) -> None:
    hours = parse_hours({"timezone": "UTC", "rules": [{"days": days, "ranges": ["09:00-17:00"]}]})
    assert hours.rules[0].days == frozenset(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("09:00-17:00", (time(9), time(17)), id="plain"),
        pytest.param("9:30 - 17:45", (time(9, 30), time(17, 45)), id="one-digit-hour-and-spaces"),
        pytest.param("22:00-02:00", (time(22), time(2)), id="crossing-midnight"),
        pytest.param("00:00-24:00", (time(0), time(0)), id="whole-day"),
        pytest.param("00:00-00:00", (time(0), time(0)), id="whole-day-written-with-midnight"),
        pytest.param("18:00-24:00", (time(18), time(0)), id="until-midnight"),
        pytest.param("09:00–17:00", (time(9), time(17)), id="en-dash"),
    ],
)
def test_time_ranges_are_read_as_start_and_exclusive_end(text: str, expected: tuple[time, time]) -> None:
    hours = parse_hours({"timezone": "UTC", "rules": [{"days": ["mon"], "ranges": [text]}]})
    assert hours.rules[0].ranges == (expected,)


def _problems(doc: Any) -> list[str]:
    with pytest.raises(HoursError) as caught:
        parse_hours(doc)
    return caught.value.problems


def _rule(**fields: Any) -> dict[str, Any]:
    return {"timezone": "Europe/Rome", "rules": [{"days": ["mon"], "ranges": ["09:00-17:00"], **fields}]}


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        pytest.param(
            _rule(ranges=["09:00-13:00", "9-17"]),
            ['hours.rules[0].ranges[1]: "9-17" is not HH:MM-HH:MM'],
            id="range-not-hh-mm",
        ),
        pytest.param(
            _rule(ranges=["25:00-26:00"]),
            ['hours.rules[0].ranges[0]: "25:00-26:00" is not a time range within a day (00:00 to 24:00)'],
            id="hour-out-of-range",
        ),
        pytest.param(
            _rule(ranges=["24:00-02:00"]),
            ['hours.rules[0].ranges[0]: "24:00-02:00" is not a time range within a day (00:00 to 24:00)'],
            id="starting-at-24",
        ),
        pytest.param(
            _rule(ranges=["09:00-24:30"]),
            ['hours.rules[0].ranges[0]: "09:00-24:30" is not a time range within a day (00:00 to 24:00)'],
            id="past-24",
        ),
        pytest.param(_rule(ranges=[900]), ["hours.rules[0].ranges[0]: 900 is not HH:MM-HH:MM"], id="range-not-text"),
        pytest.param(_rule(ranges=[]), ["hours.rules[0].ranges: must list at least one time range"], id="no-ranges"),
        pytest.param(
            _rule(ranges=None),
            ['hours.rules[0].ranges: must be a list of time ranges such as "09:00-17:00"'],
            id="ranges-missing",
        ),
        pytest.param(_rule(days=[]), ["hours.rules[0].days: must name at least one day"], id="empty-days"),
        pytest.param(
            _rule(days=["mon", "funday"]),
            ['hours.rules[0].days[1]: "funday" is not a day (mon … sun) or a span of days (mon-fri)'],
            id="unknown-day",
        ),
        pytest.param(
            _rule(days=["mon-"]),
            ['hours.rules[0].days[0]: "mon-" is not a day (mon … sun) or a span of days (mon-fri)'],
            id="half-a-span",
        ),
        pytest.param(
            _rule(days="mon-fri"),
            ["hours.rules[0].days: must be a list of day names such as mon, tue or mon-fri"],
            id="days-not-a-list",
        ),
        pytest.param(
            {"timezone": "Mars/Olympus", "rules": []},
            ['hours.timezone: "Mars/Olympus" is not a known time zone'],
            id="unknown-time-zone",
        ),
        pytest.param({"rules": []}, ["hours.timezone: is required"], id="no-time-zone"),
        pytest.param({"timezone": "UTC"}, ["hours.rules: must be a list of rules"], id="no-rules"),
        pytest.param(
            {"timezone": "UTC", "rules": ["mon 9-5"]},
            ["hours.rules[0]: must be an object with days and ranges"],
            id="rule-not-an-object",
        ),
        pytest.param(["mon"], ["hours: must be an object with timezone and rules"], id="not-an-object"),
        pytest.param(
            {"timezone": "Nowhere", "rules": [{"days": [], "ranges": ["9-17", "08:00-09:00"]}]},
            [
                'hours.timezone: "Nowhere" is not a known time zone',
                "hours.rules[0].days: must name at least one day",
                'hours.rules[0].ranges[0]: "9-17" is not HH:MM-HH:MM',
            ],
            id="every-problem-at-once",
        ),
    ],
)
def test_bad_documents_are_refused_naming_every_problem_by_path(doc: Any, expected: list[str]) -> None:
    assert _problems(doc) == expected


def test_problems_are_named_under_the_path_given() -> None:
    with pytest.raises(HoursError) as caught:
        parse_hours({"timezone": "UTC", "rules": [{"days": ["x"], "ranges": ["09:00-10:00"]}]}, "numbers[2].hours")
    assert caught.value.problems == [
        'numbers[2].hours.rules[0].days[0]: "x" is not a day (mon … sun) or a span of days (mon-fri)'
    ]


def test_the_default_time_zone_is_used_when_the_document_names_none() -> None:
    assert parse_hours({"rules": []}, default_timezone="Europe/Rome").timezone == "Europe/Rome"
    assert parse_hours({"timezone": "UTC", "rules": []}, default_timezone="Europe/Rome").timezone == "UTC"


def test_the_document_form_lists_day_names_and_writes_midnight_ends_as_24() -> None:
    assert hours_to_doc(OFFICE) == {
        "timezone": "Europe/Rome",
        "rules": [
            {"days": ["mon", "tue", "wed", "thu", "fri"], "ranges": ["09:00-13:00", "14:00-18:00"]},
            {"days": ["fri"], "ranges": ["22:00-02:00"]},
            {"days": ["sun"], "ranges": ["00:00-24:00"]},
        ],
    }


_TIMES = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
_RULES = st.builds(
    HoursRule,
    st.frozensets(st.integers(0, 6), min_size=1),
    st.lists(st.tuples(_TIMES, _TIMES), min_size=1, max_size=3).map(tuple),
)
_ZONES = st.sampled_from(["Europe/Rome", "America/New_York", "UTC", "Australia/Lord_Howe", "Asia/Kolkata"])
_SCHEDULES = st.builds(WorkingHours, _ZONES, st.lists(_RULES, max_size=3).map(tuple))


@given(_SCHEDULES)
def test_the_document_form_reads_back_to_the_same_hours(hours: WorkingHours) -> None:
    assert parse_hours(hours_to_doc(hours)) == hours


# -- open or closed --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        pytest.param(rome(3, 9), True, id="monday-opening-minute-is-open"),
        pytest.param(rome(3, 8, 59), False, id="monday-before-opening"),
        pytest.param(rome(3, 12, 59), True, id="monday-last-minute-of-morning"),
        pytest.param(rome(3, 13), False, id="range-end-is-exclusive"),
        pytest.param(rome(3, 14), True, id="afternoon-range"),
        pytest.param(rome(3, 18), False, id="monday-evening"),
        pytest.param(rome(6, 23), False, id="thursday-night-has-no-shift"),
        pytest.param(rome(7, 1), False, id="friday-small-hours-belong-to-thursday"),
        pytest.param(rome(7, 22), True, id="friday-night-shift-starts"),
        pytest.param(rome(8, 1, 59), True, id="friday-shift-runs-into-saturday"),
        pytest.param(rome(8, 2), False, id="friday-shift-ends-saturday-2am"),
        pytest.param(rome(8, 12), False, id="saturday-closed"),
        pytest.param(rome(9, 0), True, id="sunday-whole-day-from-midnight"),
        pytest.param(rome(9, 23, 59), True, id="sunday-whole-day-to-midnight"),
        pytest.param(rome(10, 0), False, id="whole-day-does-not-leak-into-monday"),
        pytest.param(datetime(2024, 6, 3, 7, 0, tzinfo=UTC), True, id="utc-instant-judged-on-rome-clock"),
        pytest.param(datetime(2024, 6, 3, 6, 59, tzinfo=UTC), False, id="utc-instant-before-rome-opening"),
    ],
)
def test_an_instant_is_open_when_a_rule_covers_its_local_wall_time(at: datetime, expected: bool) -> None:
    assert is_open(OFFICE, at) is expected


NINE_TO_FIVE_NY = parse_hours(
    {"timezone": "America/New_York", "rules": [{"days": ["mon-fri"], "ranges": ["09:00-17:00"]}]}
)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        pytest.param(datetime(2024, 3, 8, 14, 0, tzinfo=UTC), True, id="winter-9am-is-14-utc"),
        pytest.param(datetime(2024, 3, 8, 13, 30, tzinfo=UTC), False, id="winter-830am"),
        pytest.param(datetime(2024, 3, 11, 13, 0, tzinfo=UTC), True, id="summer-9am-is-13-utc"),
        pytest.param(datetime(2024, 3, 11, 21, 0, tzinfo=UTC), False, id="summer-5pm-is-21-utc"),
        pytest.param(datetime(2024, 11, 4, 14, 0, tzinfo=UTC), True, id="back-in-winter-9am-is-14-utc"),
        pytest.param(datetime(2024, 11, 4, 13, 0, tzinfo=UTC), False, id="back-in-winter-8am"),
    ],
)
def test_hours_follow_the_local_clock_across_daylight_saving(at: datetime, expected: bool) -> None:
    assert is_open(NINE_TO_FIVE_NY, at) is expected


def test_no_working_hours_means_always_open() -> None:
    assert is_open(None, datetime(2024, 6, 8, 3, 0, tzinfo=UTC)) is True
    assert next_change(None, datetime(2024, 6, 8, 3, 0, tzinfo=UTC)) is None


def test_a_schedule_without_rules_is_never_open() -> None:
    never = WorkingHours("UTC", ())
    assert is_open(never, datetime(2024, 6, 3, 12, 0, tzinfo=UTC)) is False
    assert next_change(never, datetime(2024, 6, 3, 12, 0, tzinfo=UTC)) is None


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(OFFICE, datetime(2024, 6, 3, 9, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        next_change(OFFICE, datetime(2024, 6, 3, 9, 0))


# -- the next change -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        pytest.param(rome(3, 10), rome(3, 13), id="open-morning-closes-for-lunch"),
        pytest.param(rome(3, 13), rome(3, 14), id="at-a-close-the-next-change-is-the-reopening"),
        pytest.param(rome(3, 18), rome(4, 9), id="evening-to-next-morning"),
        pytest.param(rome(7, 18), rome(7, 22), id="friday-evening-to-night-shift"),
        pytest.param(rome(7, 22, 30), rome(8, 2), id="night-shift-ends-after-midnight"),
        pytest.param(rome(8, 3), rome(9, 0), id="saturday-to-sunday-midnight"),
        pytest.param(rome(9, 12), rome(10, 0), id="sunday-ends-at-monday-midnight"),
        pytest.param(rome(10, 0), rome(10, 9), id="monday-small-hours-to-opening"),
    ],
)
def test_the_next_change_is_the_next_open_or_close_boundary(at: datetime, expected: datetime) -> None:
    change = next_change(OFFICE, at)
    assert change == expected
    assert change is not None and change.utcoffset() == timedelta(0)


def test_touching_ranges_do_not_make_a_change() -> None:
    hours = parse_hours({"timezone": "UTC", "rules": [{"days": ["mon"], "ranges": ["09:00-13:00", "13:00-18:00"]}]})
    assert next_change(hours, datetime(2024, 6, 3, 10, 0, tzinfo=UTC)) == datetime(2024, 6, 3, 18, 0, tzinfo=UTC)


def test_a_schedule_open_all_week_never_changes() -> None:
    always = parse_hours({"timezone": "Europe/Rome", "rules": [{"days": ["mon-sun"], "ranges": ["00:00-24:00"]}]})
    assert is_open(always, datetime(2024, 3, 31, 1, 30, tzinfo=UTC)) is True
    assert next_change(always, datetime(2024, 3, 31, 0, 0, tzinfo=UTC)) is None


def test_an_opening_inside_the_skipped_hour_happens_at_the_jump() -> None:
    # Rome, Sunday 31 March 2024: at 02:00 CET (01:00 UTC) clocks jump to 03:00 CEST; 02:30 never happens.
    hours = parse_hours({"timezone": "Europe/Rome", "rules": [{"days": ["sun"], "ranges": ["02:30-05:00"]}]})
    at = datetime(2024, 3, 31, 0, 0, tzinfo=UTC)
    assert next_change(hours, at) == datetime(2024, 3, 31, 1, 0, tzinfo=UTC)
    assert next_change(hours, datetime(2024, 3, 31, 1, 0, tzinfo=UTC)) == datetime(2024, 3, 31, 3, 0, tzinfo=UTC)


def test_a_close_inside_the_repeated_hour_happens_twice() -> None:
    # Rome, Sunday 27 October 2024: at 03:00 CEST (01:00 UTC) clocks go back to 02:00 CET; 02:00-03:00 repeats.
    hours = parse_hours({"timezone": "Europe/Rome", "rules": [{"days": ["sun"], "ranges": ["00:00-02:30"]}]})
    first_close = datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # 02:30 CEST
    jump_back = datetime(2024, 10, 27, 1, 0, tzinfo=UTC)  # 02:00 CET again: open again
    second_close = datetime(2024, 10, 27, 1, 30, tzinfo=UTC)  # 02:30 CET
    assert next_change(hours, datetime(2024, 10, 27, 0, 10, tzinfo=UTC)) == first_close
    assert next_change(hours, first_close) == jump_back
    assert next_change(hours, jump_back) == second_close


_INSTANTS = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2025, 12, 31), timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(_SCHEDULES, _INSTANTS, st.floats(0, 1))
def test_next_change_is_the_first_instant_where_is_open_flips(
    hours: WorkingHours, at: datetime, fraction: float
) -> None:
    change = next_change(hours, at)
    now_open = is_open(hours, at)
    if change is None:
        samples = [at + timedelta(minutes=5 * k) for k in range(8 * 24 * 12)]
        assert all(is_open(hours, s) is now_open for s in samples)
        return
    assert at < change <= at + timedelta(days=8)
    assert is_open(hours, change) is not now_open
    between = [change - timedelta(seconds=1), at + (change - at) * fraction]
    assert all(is_open(hours, point) is now_open for point in between if at <= point < change)
