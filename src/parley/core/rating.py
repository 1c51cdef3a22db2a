"""Quota and price: what an SMS costs once the user's monthly package is used up, and what an MMS costs.

contracts/wildix-sms-api.md, Quota: each user has a monthly package (default 200 SMS); past it each SMS is
rated by the destination's price in the price list and recorded as a charge. The package never blocks sending.
Counts are in segments: a concatenated message of three parts is three SMS to the carrier (TS 23.040
§9.2.3.24.1) and to the package.

An MMS is not an SMS (issue 11 §6): carriers bill it per message at its own rate, whatever its size, so it is
charged at the destination's MMS price from the first one and never counts against the SMS package.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Price:
    """The price of one SMS segment to numbers starting with ``prefix`` (E.164, e.g. ``"+44"``).

    ``mms_price`` is the price of one MMS to them, in the same currency; None: MMS to them are not charged.
    """

    prefix: str
    price: Decimal
    currency: str
    mms_price: Decimal | None = None


@dataclass(frozen=True)
class Charge:
    """What one send costs: ``billable`` segments beyond the package, at ``amount`` in total.

    ``currency`` is None when nothing is charged (within the package, or no price for the destination).
    """

    billable: int
    amount: Decimal
    currency: str | None


def find_price(to: str, prices: Sequence[Price]) -> Price | None:
    """The price whose prefix is the longest that ``to`` starts with, or None.

    The ``+`` is optional on both sides, so ``"44"`` and ``"+44"`` are the same prefix.
    """
    digits = to.removeprefix("+")
    best: Price | None = None
    for price in prices:
        prefix = price.prefix.removeprefix("+")
        if digits.startswith(prefix) and (best is None or len(prefix) > len(best.prefix.removeprefix("+"))):
            best = price
    return best


def rate(segments: int, used_before: int, package: int, price: Price | None) -> Charge:
    """The charge for sending ``segments`` when ``used_before`` of the month's ``package`` are already used.

    Segments beyond the package are billable at ``price`` each. With no price for the destination they are
    still counted (``billable``) but cost nothing. Never refuses: the package does not block sending.
    Raises ValueError on a negative count (a caller bug, not a user error).
    """
    if segments < 0 or used_before < 0 or package < 0:
        raise ValueError(f"counts must not be negative: {segments=}, {used_before=}, {package=}")
    left = max(0, package - used_before)
    billable = max(0, segments - left)
    if billable == 0 or price is None:
        return Charge(billable, Decimal(0), None)
    return Charge(billable, price.price * billable, price.currency)


def rate_mms(count: int, price: Price | None) -> Charge:
    """The charge for sending ``count`` MMS to a destination whose price entry is ``price``.

    Every MMS is billable at the entry's ``mms_price`` (there is no MMS package); without an MMS price for the
    destination nothing is charged, as for an SMS without a price. Raises ValueError on a negative count.
    """
    if count < 0:
        raise ValueError(f"counts must not be negative: {count=}")
    if count == 0 or price is None or price.mms_price is None:
        return Charge(0, Decimal(0), None)
    return Charge(count, price.mms_price * count, price.currency)
