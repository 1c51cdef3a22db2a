"""What every value from the outside must be: storable text, an id an `integer` column holds, a date in range."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.ingress.inputs import EARLIEST, LATEST, instant, json_problems, text_problem


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("hello", None, id="ascii"),
        pytest.param("héllo 😀 \u2028", None, id="unicode-and-an-emoji"),
        pytest.param("", None, id="empty"),
        pytest.param("a\x00b", "must not contain NUL characters", id="nul"),
        pytest.param("a\ud800", "must not contain lone UTF-16 surrogates (not Unicode text)", id="lone-high"),
        pytest.param("\udfff", "must not contain lone UTF-16 surrogates (not Unicode text)", id="lone-low"),
    ],
)
def test_text_that_cannot_be_stored_is_named(text: str, problem: str | None) -> None:
    assert text_problem(text) == problem


@given(st.text())
def test_text_is_storable_exactly_when_utf8_can_encode_it_and_it_has_no_nul(text: str) -> None:
    try:
        text.encode("utf-8")
        storable = "\x00" not in text
    except UnicodeEncodeError:
        storable = False
    assert (text_problem(text) is None) == storable


def test_every_bad_string_of_a_json_body_is_located_keys_included() -> None:
    body = json.loads('{"to": ["+1555", "\\u0000"], "ok": {"deep": [1, {"x\\ud800": "y"}]}, "text": "\\udc00"}')
    assert list(json_problems(body)) == [
        (("to", 1), "must not contain NUL characters"),
        (("ok", "deep", 1, "x\ud800"), "key must not contain lone UTF-16 surrogates (not Unicode text)"),
        (("text",), "must not contain lone UTF-16 surrogates (not Unicode text)"),
    ]


def test_a_json_body_nested_past_the_recursion_limit_is_walked() -> None:
    body: object = "\x00"
    for _ in range(10_000):
        body = [body]
    assert next(json_problems(body))[1] == "must not contain NUL characters"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), id="year-1-east-of-utc-overflows"),
        pytest.param(datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-1))), id="year-9999-overflows"),
        pytest.param(datetime(1899, 12, 31, 23, 59, tzinfo=UTC), id="before-1900"),
        pytest.param(LATEST, id="year-9000"),
    ],
)
def test_dates_out_of_range_are_refused(value: datetime) -> None:
    with pytest.raises(ValueError, match="must be between the years 1900 and 8999"):
        instant(value)


def test_a_date_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="must include a time zone"):
        instant(datetime(2026, 1, 1))


def test_a_date_in_range_comes_back_in_utc() -> None:
    assert instant(datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))) == datetime(2026, 1, 1, tzinfo=UTC)
    assert instant(EARLIEST) == EARLIEST
