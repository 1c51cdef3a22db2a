"""How much memory a block of code took at its peak, read from Linux's own accounting.

tracemalloc slows Python code several times over (a 200,000-row upload took over a minute under it); the kernel
counts the resident set's high-water mark for free. Writing 5 to /proc/self/clear_refs resets that mark to the
current size, so the mark after the block, less the size before it, is the block's peak growth.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STATUS = Path("/proc/self/status")


def _kib(field: str) -> int:
    found = re.search(rf"^{field}:\s+(\d+) kB$", STATUS.read_text(), re.MULTILINE)
    assert found is not None, f"no {field} in {STATUS}"
    return int(found.group(1))


class PeakGrowth:
    bytes: int = 0


@contextmanager
def peak_growth() -> Iterator[PeakGrowth]:
    """``with peak_growth() as grown: ...`` then ``grown.bytes``: the resident set's peak above its size at entry."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # high-water mark := current resident set
    before = _kib("VmRSS")
    grown = PeakGrowth()
    try:
        yield grown
    finally:
        grown.bytes = (_kib("VmHWM") - before) * 1024
