"""The rules of Parley's SMPP server for applications (issue 13 §4). Pure: no I/O, time passed in.

- `check_source`: the source_addr an ESME gives, against its user's sender rules.
- `TokenBucket`: an account's ``throughput`` (submit_sm per second before ESME_RTHROTTLED).
- `receipt_for`: the SMPP 3.4 Appendix B delivery receipt for a message's final status.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from parley.core.numbers import InvalidNumber, Ton, from_smpp_address, is_nanp
from parley.core.sender_id import ALLOWED, MAX_LENGTH

# Statuses after which nothing more happens to a message; "read" (WhatsApp) is a delivery.
FINAL_STATUSES = ("delivered", "read", "undelivered", "failed")

# §5.2.28 message_state, by the stat a receipt text carries
MESSAGE_STATE = {"DELIVRD": 2, "EXPIRED": 3, "UNDELIV": 5, "REJECTD": 8}


class SourceRefused(ValueError):
    """The source_addr is none of the senders the user may use (answered ESME_RINVSRCADR)."""


def check_source(
    addr: str, ton: int, npi: int, *, destination: str, numbers: Collection[str], region: str | None
) -> str | None:
    """The sender to send with: None (the user's own default) for an empty ``addr``, one of ``numbers`` (his
    office number and his services' numbers, E.164), or an alphanumeric ID where one may be used (not to +1
    destinations, where only a company number may send; at most 11 characters of GSM 03.38's basic set).
    Raises `SourceRefused` otherwise."""
    addr = addr.strip()
    if not addr:
        return None
    numeric_ton = ton in (Ton.INTERNATIONAL, Ton.NATIONAL)  # says "a number": letters make it a wrong one
    alphanumeric = ton == Ton.ALPHANUMERIC or (not numeric_ton and not addr.lstrip("+").isdigit())
    if not alphanumeric:
        try:
            number = from_smpp_address(addr, ton, npi, region)
        except InvalidNumber as exc:
            raise SourceRefused(exc.reason) from None
        if number in numbers:
            return number
        raise SourceRefused(f"{number} is not a number this account's user may send from")
    if is_nanp(destination):
        raise SourceRefused("to +1 numbers only a company number may send, not an alphanumeric ID")
    if len(addr) > MAX_LENGTH or not all(ch in ALLOWED for ch in addr) or addr.isdigit():
        raise SourceRefused(f"an alphanumeric sender ID has at most {MAX_LENGTH} GSM characters")
    return addr


class TokenBucket:
    """At most ``rate`` takes a second on average, ``rate`` at once after a quiet second. ``now`` is in
    seconds on any monotonic clock."""

    def __init__(self, rate: float, now: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate, self.tokens, self.at = rate, float(rate), now

    def take(self, now: float) -> bool:
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass(frozen=True)
class ReceiptText:
    """A delivery receipt as a deliver_sm carries it (Appendix B): the text and the §5.2.28 message_state."""

    stat: str
    message_state: int
    text: str


def stat_for(status: str, error: str | None) -> str:
    """The Appendix B ``stat`` of a final status; a send the dispatcher gave up on has EXPIRED."""
    if status in ("delivered", "read"):
        return "DELIVRD"
    if status == "undelivered":
        return "UNDELIV"
    return "EXPIRED" if (error or "").startswith("gave up") else "REJECTD"


def _err(code: str | None) -> str:
    digits = "".join(ch for ch in code or "" if ch.isdigit())
    return (digits or "000")[-3:].rjust(3, "0")


def receipt_for(
    message_id: str,
    *,
    status: str,
    error: str | None,
    error_code: str | None,
    submitted_at: datetime,
    done_at: datetime,
    text: str,
) -> ReceiptText:
    """The receipt of one submitted message (or part): ``id:… sub:001 dlvrd:… submit date:… done date:…
    stat:… err:… text:…``, dates as YYMMDDhhmm (UTC), the first 20 characters of the text."""
    stat = stat_for(status, error)
    delivered = "001" if stat == "DELIVRD" else "000"
    err = "000" if stat == "DELIVRD" else _err(error_code)
    body = (
        f"id:{message_id} sub:001 dlvrd:{delivered} submit date:{submitted_at:%y%m%d%H%M} "
        f"done date:{done_at:%y%m%d%H%M} stat:{stat} err:{err} text:{text[:20]}"
    )
    return ReceiptText(stat, MESSAGE_STATE[stat], body)
