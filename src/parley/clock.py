"""The clock every use case reads. Normally the real UTC time; for end-to-end tests and drills, shifted.

``PARLEY_CLOCK_OFFSET_FILE`` names a file holding a number of seconds to add to the real time (re-read at most every
half second, so a test can move a running server a day ahead — WhatsApp's 24-hour window, timed actions — without
waiting). A missing or unreadable file means no shift. Leave it unset in production.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def utcnow() -> datetime:
    return datetime.now(UTC)


class OffsetClock:
    def __init__(self, path: str | Path, *, reread: float = 0.5) -> None:
        self._path = Path(path)
        self._reread = reread
        self._read_at: float | None = None
        self._offset = timedelta()

    def __call__(self) -> datetime:
        now = time.monotonic()
        if self._read_at is None or now - self._read_at >= self._reread:
            self._read_at = now
            try:
                self._offset = timedelta(seconds=float(self._path.read_text().strip() or 0))
            except (OSError, ValueError, OverflowError):
                self._offset = timedelta()
        return datetime.now(UTC) + self._offset
