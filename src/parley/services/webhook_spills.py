"""Which (receiver, subject) pairs have deliveries this process wrote and left for a claim (issue 15).

The webhook sender takes most new deliveries as they are written, with no claim (`WebhookSender.lease`). One it
could not take then (its receiver was full) waits in the database for a claim; a later event of the same subject
must not overtake it, so while any of a pair's deliveries wait, the pair's new deliveries are left for claims too
(claims take them in the order of the events). A claim that brings a pair's deliveries counts them off.

What another process claims is never counted off here: an entry also ends ``horizon`` seconds after its last
delivery was left (by then a claim has long taken it, wherever it went), and the table is bounded.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Hashable

MOST = 100_000  # pairs remembered; past it the oldest go


class Spills:
    def __init__(self, horizon: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._horizon = horizon
        self._monotonic = monotonic
        self._left: dict[tuple[Hashable, Hashable], tuple[int, float]] = {}  # pair: (waiting, when last left)
        self._targets: Counter[Hashable] = Counter()  # receiver: its pairs here

    def __contains__(self, pair: tuple[Hashable, Hashable]) -> bool:
        entry = self._left.get(pair)
        if entry is None:
            return False
        if self._monotonic() - entry[1] > self._horizon:
            self._forget(pair)
            return False
        return True

    def of(self, target: Hashable) -> bool:
        """Whether some subject of ``target`` has deliveries waiting (as far as this process knows)."""
        return self._targets[target] > 0

    def left(self, pair: tuple[Hashable, Hashable]) -> None:
        """One more delivery of ``pair`` was written for a claim."""
        waiting = self._left.pop(pair, (0, 0.0))[0]  # popped: re-inserted last, so the oldest stay first
        if waiting == 0:
            self._targets[pair[0]] += 1
        self._left[pair] = (waiting + 1, self._monotonic())
        while len(self._left) > MOST:
            self._forget(next(iter(self._left)))

    def claimed(self, pair: tuple[Hashable, Hashable]) -> None:
        """A claim brought one delivery of ``pair``."""
        entry = self._left.get(pair)
        if entry is None:
            return
        if entry[0] <= 1:
            self._forget(pair)
        else:
            self._left[pair] = (entry[0] - 1, entry[1])

    def _forget(self, pair: tuple[Hashable, Hashable]) -> None:
        del self._left[pair]
        self._targets[pair[0]] -= 1
        if self._targets[pair[0]] <= 0:
            del self._targets[pair[0]]
