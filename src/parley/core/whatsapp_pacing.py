"""When each WhatsApp campaign message may go: the number's throughput and the 6-second gap per customer. Pure.

Meta caps what one business number sends (its *throughput*, messages per second) and refuses a burst to one
customer (error 131056, "pair rate limit": about one message per 6 seconds from one number to one customer).
Parley keeps both without failing a message by giving each job a due time:

- consecutive messages from one number are at least ``1 / rate`` seconds apart, after the last one already
  queued and not yet tried (``tail``; retries keep their own backoff);
- a message to a customer is at least `CUSTOMER_GAP` after the last message to that customer from that number
  (``last_to``: queued, or just handed over).

Both inputs are read from the database (the jobs' due times, the last message to each customer), so every
runner process paces the same way. Recipients are taken in the order they may first go, so due times only
grow: any two messages of a batch are an interval apart, and each customer's gap is kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

CUSTOMER_GAP = timedelta(seconds=6)
HORIZON = timedelta(seconds=60)  # queue at most this far ahead: a stop withdraws little, a rate change applies soon


def interval(rate: float) -> timedelta:
    """The time between two messages from one number at ``rate`` messages per second (at least 1 ms)."""
    if rate <= 0:
        raise ValueError("rate must be a positive number of messages per second")
    return max(timedelta(seconds=1 / rate), timedelta(milliseconds=1))


def room(rate: float, tail: datetime | None, now: datetime) -> int:
    """How many more messages may be queued for one number now without going past `HORIZON` ahead."""
    start = max(now, tail + interval(rate)) if tail is not None else now
    ahead = now + HORIZON - start
    if ahead < timedelta(0):
        return 0
    return int(ahead / interval(rate)) + 1


def due_times(
    recipients: Sequence[str],
    *,
    now: datetime,
    rate: float,
    tail: datetime | None,
    last_to: Mapping[str, datetime],
) -> dict[str, datetime]:
    """The due time of a message to each recipient (distinct numbers) from one number.

    ``tail``: the latest due time of the number's queued WhatsApp messages (None: none queued);
    ``last_to``: per customer, when the last message to them went or is due (absent: none lately).
    """
    step = interval(rate)
    earliest = {r: max(now, last_to[r] + CUSTOMER_GAP) if r in last_to else now for r in recipients}
    slot = max(now, tail + step) if tail is not None else now
    due: dict[str, datetime] = {}
    for recipient in sorted(recipients, key=lambda r: (earliest[r], r)):
        due[recipient] = max(slot, earliest[recipient])
        slot = due[recipient] + step
    return due
