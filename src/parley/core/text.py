"""Message text: GSM 03.38 / UCS-2, segment counts and splitting for concatenation."""

from __future__ import annotations

from enum import StrEnum


class Encoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"
