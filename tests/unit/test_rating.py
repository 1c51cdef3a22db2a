"""Quota and price: package use and per-segment charges; per-MMS charges."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.rating import Charge, Price, find_price, rate, rate_mms

US = Price("+1", Decimal("0.0100"), "USD")
UK = Price("+44", Decimal("0.04"), "GBP")
UK_MOBILE = Price("+447", Decimal("0.05"), "GBP")
UK_79 = Price("+4479", Decimal("0.06"), "GBP")
PRICES = [US, UK_MOBILE, UK, UK_79]


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        pytest.param("+15551234567", US, id="us"),
        pytest.param("+441234567890", UK, id="uk-landline"),
        pytest.param("+447400123456", UK_MOBILE, id="uk-mobile-longer-prefix"),
        pytest.param("+447911123456", UK_79, id="longest-prefix-wins-whatever-the-order"),
        pytest.param("+33612345678", None, id="no-price"),
        pytest.param("447911123456", UK_79, id="plus-is-optional"),
    ],
)
def test_price_is_found_by_longest_prefix(to: str, expected: Price | None) -> None:
    assert find_price(to, PRICES) == expected


def test_prefix_without_plus_matches() -> None:
    bare = Price("44", Decimal("0.04"), "GBP")
    assert find_price("+447911123456", [bare]) == bare


def test_no_prices_means_no_price() -> None:
    assert find_price("+15551234567", []) is None


@pytest.mark.parametrize(
    ("segments", "used_before", "package", "price", "expected"),
    [
        pytest.param(1, 0, 200, UK, Charge(0, Decimal(0), None), id="within-package"),
        pytest.param(1, 199, 200, UK, Charge(0, Decimal(0), None), id="last-of-package"),
        pytest.param(1, 200, 200, UK, Charge(1, Decimal("0.04"), "GBP"), id="first-past-package"),
        pytest.param(3, 199, 200, UK, Charge(2, Decimal("0.08"), "GBP"), id="straddles-the-package"),
        pytest.param(2, 500, 200, UK, Charge(2, Decimal("0.08"), "GBP"), id="well-past-package"),
        pytest.param(4, 0, 0, US, Charge(4, Decimal("0.04"), "USD"), id="no-package"),
        pytest.param(3, 300, 200, None, Charge(3, Decimal(0), None), id="no-price-still-counts"),
        pytest.param(0, 300, 200, UK, Charge(0, Decimal(0), None), id="nothing-sent"),
    ],
)
def test_segments_past_the_package_are_charged(
    segments: int, used_before: int, package: int, price: Price | None, expected: Charge
) -> None:
    assert rate(segments, used_before, package, price) == expected


def test_charges_are_exact_decimals() -> None:
    charge = rate(3, 200, 200, Price("+1", Decimal("0.1"), "USD"))
    assert charge.amount == Decimal("0.3")
    assert str(charge.amount) == "0.3"


@pytest.mark.parametrize(("segments", "used_before", "package"), [(-1, 0, 200), (1, -1, 200), (1, 0, -1)])
def test_negative_counts_are_a_caller_bug(segments: int, used_before: int, package: int) -> None:
    with pytest.raises(ValueError, match="negative"):
        rate(segments, used_before, package, UK)


@given(
    st.lists(st.integers(min_value=0, max_value=10), max_size=30),
    st.integers(min_value=0, max_value=100),
)
def test_rating_sends_one_by_one_bills_the_same_as_all_at_once(sends: list[int], package: int) -> None:
    used = 0
    billed = 0
    for segments in sends:
        billed += rate(segments, used, package, UK).billable
        used += segments
    assert billed == max(0, used - package)
    assert rate(used, 0, package, UK).billable == billed


US_WITH_MMS = Price("+1", Decimal("0.0079"), "USD", mms_price=Decimal("0.02"))
FREE_MMS = Price("+1", Decimal("0.0079"), "USD", mms_price=Decimal("0"))


@pytest.mark.parametrize(
    ("count", "price", "expected"),
    [
        pytest.param(1, US_WITH_MMS, Charge(1, Decimal("0.02"), "USD"), id="one-mms"),
        pytest.param(3, US_WITH_MMS, Charge(3, Decimal("0.06"), "USD"), id="several"),
        pytest.param(1, US, Charge(0, Decimal(0), None), id="entry-without-mms-price"),
        pytest.param(1, None, Charge(0, Decimal(0), None), id="no-price-for-the-destination"),
        pytest.param(1, FREE_MMS, Charge(1, Decimal(0), "USD"), id="a-zero-mms-price-is-still-a-price"),
        pytest.param(0, US_WITH_MMS, Charge(0, Decimal(0), None), id="nothing-sent"),
    ],
)
def test_mms_are_charged_per_message_at_the_mms_price(count: int, price: Price | None, expected: Charge) -> None:
    assert rate_mms(count, price) == expected


def test_a_negative_mms_count_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="negative"):
        rate_mms(-1, US_WITH_MMS)


def test_the_mms_price_is_found_with_the_sms_price_by_the_longest_prefix() -> None:
    """An MMS is priced by the same entry as an SMS to the number: a longer prefix without an MMS price wins."""
    us_local = Price("+1555", Decimal("0.01"), "USD")
    assert rate_mms(1, find_price("+15551234567", [US_WITH_MMS, us_local])) == Charge(0, Decimal(0), None)
    assert rate_mms(1, find_price("+12125551234", [US_WITH_MMS, us_local])) == Charge(1, Decimal("0.02"), "USD")
