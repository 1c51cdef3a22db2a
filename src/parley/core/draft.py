"""What a message box says about a draft as it is typed: characters, encoding, SMS segments, the 670 limit."""

from __future__ import annotations

from dataclasses import dataclass

from parley.core.outbound import MAX_MESSAGE_LENGTH
from parley.core.reply_links import PLACEHOLDER
from parley.core.text import Encoding, split


@dataclass(frozen=True)
class DraftCount:
    characters: int
    encoding: str  # "GSM-7" | "UCS-2"
    segments: int
    limit: int = MAX_MESSAGE_LENGTH

    @property
    def too_long(self) -> bool:
        return self.characters > self.limit


def count_draft(text: str, reply_link: str = "") -> DraftCount:
    """The counter for ``text``, by the same rules as the message that will be sent (`parley.core.text`);
    ``reply_link``: a link as long as the real ones, measured in place of each ``{reply_link}``."""
    if reply_link:
        text = text.replace(PLACEHOLDER, reply_link)
    segments = split(text) if text else None
    encoding = segments.encoding if segments is not None else Encoding.GSM7
    return DraftCount(
        characters=len(text),
        encoding="GSM-7" if encoding is Encoding.GSM7 else "UCS-2",
        segments=segments.count if segments is not None else 0,
    )
