"""What can go wrong handing a message to a phone network, and what to do about it.

Every channel raises one of these; the dispatcher asks `RetryPolicy.decide` what happens next.
Pure: no clock reads (``now`` is passed in), no state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


class DeliveryError(Exception):
    """A message could not be handed over. ``retryable`` says whether trying again may help."""

    retryable: bool = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unreachable(DeliveryError):
    """The peer could not be reached: connection refused or reset, not bound, DNS failure."""

    retryable = True


class TimedOut(DeliveryError):
    """The peer did not answer in time."""

    retryable = True


class Throttled(DeliveryError):
    """The peer asked us to slow down (SMPP ESME_RTHROTTLED, ESME_RMSGQFUL, HTTP 429)."""

    retryable = True


class Rejected(DeliveryError):
    """The peer refused this message for good.

    ``code`` is the peer's own: an SMPP command_status, an HTTP status.
    """

    retryable = False

    def __init__(self, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.code = code


class NoTransport(DeliveryError):
    """No configured transport can carry this message."""

    retryable = False


# Provider error codes meaning "the recipient opted out (replied STOP)": the number goes on the opt-out list, as
# the customer's own STOP does. Twilio 21610; Telnyx 40300.
OPT_OUT_CODES = frozenset({"21610", "40300"})


@dataclass(frozen=True)
class Retry:
    at: datetime


@dataclass(frozen=True)
class GiveUp:
    reason: str


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base * factor**(attempts-1)`` capped at ``cap``, until ``give_up_after``.

    A peer that cannot be reached at all (`Unreachable`) is retried with the smaller ``link_cap``: the
    fault is the link, not the message, and when the carrier comes back its queue should go within
    seconds, not after a ten-minute backoff.
    """

    base: timedelta = timedelta(seconds=2)
    factor: float = 2.0
    cap: timedelta = timedelta(minutes=10)
    link_cap: timedelta = timedelta(seconds=30)
    give_up_after: timedelta = timedelta(hours=24)

    def delay(self, attempts: int, error: DeliveryError | None = None) -> timedelta:
        seconds = self.base.total_seconds() * self.factor ** min(max(0, attempts - 1), 64)
        cap = min(self.cap, self.link_cap) if isinstance(error, Unreachable) else self.cap
        # Capped in seconds first: past ~46 attempts the raw backoff is beyond what a timedelta can hold.
        return timedelta(seconds=min(seconds, cap.total_seconds()))

    def decide(self, error: DeliveryError, attempts: int, first_tried: datetime, now: datetime) -> Retry | GiveUp:
        """``attempts`` counts tries made so far, including the one that just failed."""
        if not error.retryable:
            return GiveUp(error.reason)
        at = now + self.delay(attempts, error)
        if at - first_tried > self.give_up_after:
            return GiveUp(f"gave up after {attempts} attempts: {error.reason}")
        return Retry(at)
