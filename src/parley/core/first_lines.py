"""Where each number of a recipient CSV first appeared, in flat memory (`core.recipients` dedupes with it). Pure."""

from __future__ import annotations

from array import array

_GOLDEN = 0x9E3779B97F4A7C15  # 2**64 / φ: Fibonacci hashing spreads runs of consecutive numbers
_MASK64 = (1 << 64) - 1


class FirstLines:
    """Where each number first appeared: E.164 digits (as an int) → line, in an open-addressing table.

    The one structure that grows with the file. A dict of int to int costs ~110 bytes a number (tracemalloc, 1,000,000
    numbers). Two arrays of 64-bit slots, a quarter to half full, cost 32 to 64 (half as much again while doubling):
    ~34 MB for 1,000,000 numbers, well inside the 250 MB RSS of issue 4 §4. E.164 has at most 15 digits and never
    starts with 0, so every key fits a signed 64-bit slot and 0 can mark an empty one.
    """

    def __init__(self) -> None:
        self._bits = 10
        self._keys = array("q", [0]) * (1 << self._bits)
        self._lines = array("q", [0]) * (1 << self._bits)
        self._size = 0

    def setdefault(self, key: int, line: int) -> int:
        """The line ``key`` was first seen on; records ``line`` for it when it is new."""
        slot = self._slot(key)
        if self._keys[slot] == key:
            return self._lines[slot]
        self._keys[slot] = key
        self._lines[slot] = line
        self._size += 1
        if 2 * self._size > len(self._keys):
            self._grow()
        return line

    def _slot(self, key: int) -> int:
        """The slot holding ``key``, or the empty slot where it belongs (linear probing)."""
        mask = len(self._keys) - 1
        slot = ((key * _GOLDEN) & _MASK64) >> (64 - self._bits)
        while self._keys[slot] not in (0, key):
            slot = (slot + 1) & mask
        return slot

    def _grow(self) -> None:
        keys, lines = self._keys, self._lines
        self._bits += 1
        self._keys = array("q", [0]) * (1 << self._bits)
        self._lines = array("q", [0]) * (1 << self._bits)
        for key, line in zip(keys, lines, strict=True):
            if key:
                slot = self._slot(key)
                self._keys[slot] = key
                self._lines[slot] = line
