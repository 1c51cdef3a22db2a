"""Phone numbers: E.164 parsing, lookups and SMPP addresses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.numbers import (
    InvalidNumber,
    Npi,
    Ton,
    customer_ids,
    from_smpp_address,
    is_nanp,
    number_type,
    parse_e164,
    region_of,
    to_smpp_address,
)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        pytest.param("+15551234567", None, "+15551234567", id="fictional-555-is-possible"),
        pytest.param("+1 (555) 123-4567", None, "+15551234567", id="separators"),
        pytest.param("+1.555.123.4567", None, "+15551234567", id="dots"),
        pytest.param("555.123.4567", "US", "+15551234567", id="national-in-region"),
        pytest.param("1 555 123 4567", "US", "+15551234567", id="national-prefix"),
        pytest.param("07911 123456", "GB", "+447911123456", id="gb-trunk-zero"),
        pytest.param("+44 7911 123456", "US", "+447911123456", id="plus-wins-over-region"),
        pytest.param("011 44 7911 123456", "US", "+447911123456", id="us-international-prefix"),
        pytest.param("0044 7911 123456", "DE", "+447911123456", id="de-international-prefix"),
        pytest.param("015112345678", "DE", "+4915112345678", id="de-mobile"),
        pytest.param("１５５５１２３４５６７", "US", "+15551234567", id="full-width-digits"),
        pytest.param("  +33 6 12 34 56 78 ", None, "+33612345678", id="surrounding-spaces"),
    ],
)
def test_numbers_as_people_write_them_parse_to_e164(raw: str, region: str | None, expected: str) -> None:
    assert parse_e164(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        pytest.param("", None, "the phone number is empty", id="empty"),
        pytest.param(" - ", "US", "the phone number is empty", id="only-separators"),
        pytest.param("+12", None, '"+12" is not a valid phone number in E.164 form', id="too-short"),
        pytest.param(
            "+1555123456789012",
            None,
            '"+1555123456789012" is not a valid phone number in E.164 form',
            id="long",
        ),
        pytest.param("+999123", None, '"+999123" is not a valid phone number in E.164 form', id="no-country"),
        pytest.param("12345", "US", '"12345" is not a valid phone number in US', id="short-in-region"),
        pytest.param("5551234567", None, '"5551234567" must start with + and the country code (E.164)', id="no-plus"),
        pytest.param(
            "1-800-FLOWERS",
            "US",
            '"1-800-FLOWERS" is not a phone number: only digits and a leading + are allowed',
            id="letters",
        ),
        pytest.param(
            "++15551234567",
            None,
            '"++15551234567" is not a phone number: only digits and a leading + are allowed',
            id="double-plus",
        ),
        pytest.param(
            "+1555*1234567",
            None,
            '"+1555*1234567" is not a phone number: only digits and a leading + are allowed',
            id="star",
        ),
    ],
)
def test_unusable_numbers_are_refused_with_a_plain_reason(raw: str, region: str | None, reason: str) -> None:
    with pytest.raises(InvalidNumber) as caught:
        parse_e164(raw, region)
    assert caught.value.reason == reason
    assert str(caught.value) == reason


def test_invalid_number_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_e164("+12")


@pytest.mark.parametrize(
    ("e164", "nanp", "region", "kind"),
    [
        pytest.param("+15551234567", True, None, "unknown", id="fictional-us"),
        pytest.param("+12015550123", True, "US", "fixed_line_or_mobile", id="us-new-jersey"),
        pytest.param("+12425551234", True, "BS", "unknown", id="bahamas-is-nanp"),
        pytest.param("+447400123456", False, "GB", "mobile", id="gb-mobile"),
        pytest.param("+4915112345678", False, "DE", "mobile", id="de-mobile"),
        pytest.param("+4930", False, "DE", "unknown", id="single-region-country-code"),
        pytest.param("+80012345678", False, None, "toll_free", id="non-geographic"),
    ],
)
def test_number_lookups(e164: str, nanp: bool, region: str | None, kind: str) -> None:
    assert is_nanp(e164) is nanp
    assert region_of(e164) == region
    assert number_type(e164) == kind


def test_lookups_refuse_what_is_not_e164() -> None:
    with pytest.raises(InvalidNumber):
        number_type("hello")


def test_is_nanp_reads_the_country_code_of_an_e164_number_without_parsing_it_again() -> None:
    assert is_nanp("+18765551234")  # Jamaica: NANP too
    assert not is_nanp("+7495")  # the country code 7 is not 1
    assert not is_nanp("hello")


def test_smpp_address_of_an_e164_number_is_international_isdn() -> None:
    assert to_smpp_address("+15551234567") == ("15551234567", 1, 1)
    assert to_smpp_address("+447911123456") == ("447911123456", Ton.INTERNATIONAL, Npi.ISDN)


@pytest.mark.parametrize("bad", ["15551234567", "Alice", "+", "+1234567890123456", ""])
def test_smpp_address_refuses_what_is_not_e164(bad: str) -> None:
    with pytest.raises(InvalidNumber):
        to_smpp_address(bad)


@pytest.mark.parametrize(
    ("addr", "ton", "npi", "region", "expected"),
    [
        pytest.param("15551234567", 1, 1, "US", "+15551234567", id="international"),
        pytest.param("+15551234567", 1, 1, None, "+15551234567", id="international-with-stray-plus"),
        pytest.param("447911123456", 1, 1, "US", "+447911123456", id="international-other-country"),
        pytest.param("999123", 1, 1, "US", "+999123", id="international-taken-as-sent"),
        pytest.param("5551234567", 0, 1, "US", "+15551234567", id="unknown-read-in-region"),
        pytest.param("07911123456", 2, 1, "GB", "+447911123456", id="national-read-in-region"),
        pytest.param("447911123456", 0, 1, "US", "+447911123456", id="unknown-with-country-code"),
        pytest.param("447911123456", 0, 0, "GB", "+447911123456", id="unknown-own-country-code"),
        pytest.param("15551234567", 0, 1, None, "+15551234567", id="unknown-without-region"),
        pytest.param("+447911123456", 2, 1, "US", "+447911123456", id="national-with-plus"),
        pytest.param("Parley", 5, 0, "US", "Parley", id="alphanumeric"),
        pytest.param("", 5, 0, "US", "", id="alphanumeric-empty"),
        pytest.param("12345", 3, 0, "US", "12345", id="network-specific-short-code"),
        pytest.param("12345", 6, 0, "US", "12345", id="abbreviated-short-code"),
    ],
)
def test_carrier_addresses_become_e164(addr: str, ton: int, npi: int, region: str | None, expected: str) -> None:
    assert from_smpp_address(addr, ton, npi, region) == expected


@pytest.mark.parametrize(
    ("addr", "ton", "region"),
    [
        pytest.param("abc", 1, "US", id="international-letters"),
        pytest.param("", 1, "US", id="international-empty"),
        pytest.param("12", 0, "US", id="unknown-too-short"),
        pytest.param("Parley", 0, "US", id="alphanumeric-sent-as-unknown"),
    ],
)
def test_unusable_carrier_addresses_are_refused(addr: str, ton: int, region: str) -> None:
    with pytest.raises(InvalidNumber):
        from_smpp_address(addr, ton, 1, region)


@given(st.text())
def test_alphanumeric_carrier_address_never_raises(addr: str) -> None:
    assert from_smpp_address(addr, Ton.ALPHANUMERIC, Npi.UNKNOWN, "US") == addr


@pytest.mark.parametrize("e164", ["+15551234567", "+447911123456", "+4915112345678", "+33612345678"])
@pytest.mark.parametrize("region", ["US", "GB", None])
def test_smpp_address_round_trips(e164: str, region: str | None) -> None:
    addr, ton, npi = to_smpp_address(e164)
    assert from_smpp_address(addr, ton, npi, region) == e164


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        pytest.param("+15557654321", ("+15557654321", None), id="e164"),
        pytest.param("US.13491208655302741918", (None, "US.13491208655302741918"), id="business-scoped-id"),
        pytest.param("15557654321", (None, "15557654321"), id="digits-without-plus"),
        pytest.param("+1234567890123456", (None, "+1234567890123456"), id="too-long-for-e164"),
    ],
)
def test_only_an_e164_number_is_shown_as_a_number(stored: str, shown: tuple[str | None, str | None]) -> None:
    assert customer_ids(stored) == shown
