"""How wrong passwords buy waits: the pure rules of password throttling (console, HTTP Basic, Mail2SMS).

Failures are counted under three kinds of key. Two of them *refuse* an attempt inside their wait, a right
password included (otherwise a guesser could keep guessing and simply stop at the one that works):

- ``pair``: one secret (an extension, the Mail2SMS profile) from one client address — the guesser's own
  counter; a right password from another address is not held back by it.
- ``address``: one client address, whatever it guesses — so spraying many extensions from one place stops.

The third only *slows*: ``subject``, one secret from anywhere. Guesses spread over many addresses still cost
time, but since anyone can raise this counter it never refuses: nobody can lock another user out.
A counter is forgotten ``FORGET_AFTER`` its last failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

FORGET_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class Rule:
    free: int  # failures allowed before any wait
    first: timedelta  # the first wait; each further failure doubles it
    cap: timedelta
    refuses: bool  # refuse inside the wait (True) or only delay the check (False)

    def wait_after(self, failures: int) -> timedelta:
        """How long after the last failure the next attempt is let through (or delayed for)."""
        if failures < self.free:
            return timedelta(0)
        wait: timedelta = self.first * 2 ** min(failures - self.free, 16)
        return min(wait, self.cap)


RULES = {
    "pair": Rule(free=3, first=timedelta(seconds=5), cap=timedelta(minutes=5), refuses=True),
    "address": Rule(free=10, first=timedelta(seconds=5), cap=timedelta(minutes=5), refuses=True),
    "subject": Rule(free=10, first=timedelta(milliseconds=250), cap=timedelta(seconds=2), refuses=False),
    # SMPP server (issue 13 §4): 5 failed binds from one address, each within 5 minutes of the one before, and
    # that address gets ESME_RBINDFAIL for 5 minutes (its counter restarts after 5 quiet minutes: `SMPP_BIND_WINDOW`).
    "smpp_bind": Rule(free=5, first=timedelta(minutes=5), cap=timedelta(minutes=5), refuses=True),
}
SMPP_BIND_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class Counter:
    kind: str  # a key of RULES
    failures: int
    last_at: datetime


@dataclass(frozen=True)
class Verdict:
    """May the attempt go ahead: ``refused_until`` (a wait not yet over) or after ``delay``."""

    refused_until: datetime | None = None
    delay: timedelta = timedelta(0)

    def retry_after(self, now: datetime) -> int:
        """Whole seconds to wait, at least 1 (for a Retry-After header)."""
        if self.refused_until is None:
            return 0
        return max(1, int((self.refused_until - now).total_seconds() + 0.999))


def judge(counters: Iterable[Counter], now: datetime) -> Verdict:
    """The verdict for an attempt given its live counters (expired ones are ignored)."""
    refused_until: datetime | None = None
    delay = timedelta(0)
    for counter in counters:
        if counter.last_at <= now - FORGET_AFTER:
            continue
        rule = RULES[counter.kind]
        allowed_at = counter.last_at + rule.wait_after(counter.failures)
        if rule.refuses:
            if allowed_at > now and (refused_until is None or allowed_at > refused_until):
                refused_until = allowed_at
        else:
            delay = max(delay, rule.wait_after(counter.failures))
    return Verdict(refused_until, delay if refused_until is None else timedelta(0))
