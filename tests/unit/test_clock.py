"""The shiftable clock of end-to-end tests: the offset file moves a running server's time; a bad file is no shift."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from parley.clock import OffsetClock, utcnow


def test_the_offset_file_shifts_the_clock_and_is_reread(tmp_path: Path) -> None:
    path = tmp_path / "offset"
    clock = OffsetClock(path, reread=0)
    assert abs(clock() - utcnow()) < timedelta(seconds=5)  # no file: the real time
    path.write_text("86400\n")
    assert timedelta(hours=23, minutes=59) < clock() - utcnow() < timedelta(hours=24, minutes=1)
    path.write_text("not a number")
    assert abs(clock() - utcnow()) < timedelta(seconds=5)
