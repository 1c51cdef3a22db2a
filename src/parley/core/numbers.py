"""Phone numbers: parsing to E.164 (ITU-T E.164 via phonenumbers) and SMPP addresses (SMPP 3.4 §5.2.5-6).

Numbers are stored and compared as E.164 strings with a leading ``+``. We accept any *possible* number (right
length for its country), not only *valid* ones (an allocated range): test and fictional numbers such as
+1 555 0100 must pass, and carriers, not us, know which ranges are live.

Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from enum import IntEnum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

# Separators people type inside numbers; anything else but digits and one leading "+" is rejected.
_SEPARATORS = re.compile(r"[\s\-().]")
_DIGITS = re.compile(r"\+?[0-9]+")
_E164 = re.compile(r"\+[0-9]{1,15}")  # ITU-T E.164 §6: at most 15 digits


class InvalidNumber(ValueError):
    """A string that is not a usable phone number; ``reason`` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Ton(IntEnum):
    """SMPP 3.4 §5.2.5 type_of_number."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    SUBSCRIBER = 4
    ALPHANUMERIC = 5
    ABBREVIATED = 6


class Npi(IntEnum):
    """SMPP 3.4 §5.2.6 numbering_plan_indicator (the ones we use)."""

    UNKNOWN = 0
    ISDN = 1  # E.163/E.164


def customer_ids(stored: str) -> tuple[str | None, str | None]:
    """(external_number, external_id) of a stored customer: a WhatsApp contact without a phone number is stored by
    its business-scoped user id (issue 12 §2), which is shown as an id, never as a number."""
    return (stored, None) if _E164.fullmatch(stored) else (None, stored)


def _clean(raw: str) -> str:
    """Drop separators and turn any Unicode decimal digit (full-width, Arabic-Indic, …) into ASCII."""
    stripped = _SEPARATORS.sub("", raw)
    if stripped.isascii():  # ASCII digits are their own decimal value: nothing to turn (the usual case)
        return stripped
    return "".join(str(unicodedata.decimal(ch)) if unicodedata.decimal(ch, None) is not None else ch for ch in stripped)


def parse_e164(raw: str, default_region: str | None = None) -> str:
    """Parse a number as people write it and return it in E.164 form (``+`` and digits).

    Spaces, dashes, parentheses and dots are ignored. With a leading ``+`` the number is international;
    without one it is read as dialled in ``default_region`` (ISO 3166 code such as ``"US"``), where national
    prefixes and the region's international prefix are understood. Letters (vanity numbers) are rejected.
    Raises InvalidNumber.
    """
    cleaned = _clean(raw)
    if not cleaned:
        raise InvalidNumber("the phone number is empty")
    if not _DIGITS.fullmatch(cleaned):
        raise InvalidNumber(f'"{raw}" is not a phone number: only digits and a leading + are allowed')
    if not cleaned.startswith("+") and default_region is None:
        raise InvalidNumber(f'"{raw}" must start with + and the country code (E.164)')
    try:
        parsed = phonenumbers.parse(cleaned, None if cleaned.startswith("+") else default_region)
    except NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        if cleaned.startswith("+"):
            raise InvalidNumber(f'"{raw}" is not a valid phone number in E.164 form')
        raise InvalidNumber(f'"{raw}" is not a valid phone number in {default_region}')
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def _parse_e164_strict(e164: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(e164, None)
    except NumberParseException as exc:
        raise InvalidNumber(f'"{e164}" is not a valid phone number in E.164 form') from exc


def is_nanp(e164: str) -> bool:
    """True for North American Numbering Plan numbers (country code 1: US, Canada, much of the Caribbean).

    E.164 country codes are prefix-free and no other one starts with 1, so the prefix alone tells
    (no second parse on the hot path of every send).
    """
    return e164.startswith("+1")


def region_of(e164: str) -> str | None:
    """ISO 3166 region of a number, or None when it cannot be told.

    A valid number gets its exact region (+44 7911 1… is GG, not GB). A merely possible one gets its country
    code's region only when that code has a single region (+49 → DE); +1 555… is None, as is a
    non-geographic number (+800).
    """
    parsed = _parse_e164_strict(e164)
    region = phonenumbers.region_code_for_number(parsed)
    if region is None and parsed.country_code is not None:
        regions = phonenumbers.region_codes_for_country_code(parsed.country_code)
        region = regions[0] if len(regions) == 1 else None
    if region in (None, "ZZ", "001"):  # unknown / non-geographic entity
        return None
    return region


def number_type(e164: str) -> str:
    """The phonenumbers line type in lower case: "mobile", "fixed_line_or_mobile", "unknown", …"""
    kind = phonenumbers.number_type(_parse_e164_strict(e164))
    return PhoneNumberType.to_string(kind).lower()


def to_smpp_address(e164: str) -> tuple[str, int, int]:
    """(addr, ton, npi) for an E.164 number: digits without ``+``, TON 1 international, NPI 1 ISDN.

    Raises InvalidNumber when ``e164`` is not ``+`` followed by digits.
    """
    if not _E164.fullmatch(e164):
        raise InvalidNumber(f'"{e164}" is not a phone number in E.164 form')
    return e164[1:], Ton.INTERNATIONAL, Npi.ISDN


def from_smpp_address(addr: str, ton: int, npi: int, default_region: str | None) -> str:
    """The E.164 form of an address a carrier sent (source_addr of deliver_sm).

    - TON 1 (international): ``+`` and the digits as sent (a stray ``+`` is tolerated).
    - TON 0 / 2 (unknown / national): read as dialled in ``default_region``; if that fails and the digits
      already start with a country code, ``+`` and the digits.
    - TON 5 (alphanumeric) and the short-code kinds (3 network specific, 4 subscriber, 6 abbreviated):
      returned as given; these are not E.164 and never raise.
    Raises InvalidNumber for a TON 1 address that is not 1-15 digits, or a TON 0/2 address that is not a
    possible number. ``npi`` is accepted for
    completeness; carriers set it inconsistently, so it does not change the reading.
    """
    del npi
    if ton not in (Ton.UNKNOWN, Ton.INTERNATIONAL, Ton.NATIONAL):
        return addr
    digits = addr.strip()
    if ton == Ton.INTERNATIONAL:
        # Taken as sent: the carrier vouches for the country code, and our length metadata may lag theirs.
        e164 = "+" + digits.removeprefix("+")
        if not _E164.fullmatch(e164):
            raise InvalidNumber(f'"{addr}" is not an international number (SMPP TON 1)')
        return e164
    if digits.startswith("+"):
        return parse_e164(digits)
    if default_region is not None:
        try:
            return parse_e164(digits, default_region)
        except InvalidNumber:
            pass
    return parse_e164("+" + digits)
