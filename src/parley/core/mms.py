"""Packing attachments into an MMS, by the seed's rules (seed 001, issue 11 §4). Pure.

- At most `MAX_FILES` files and `MAX_BYTES` bytes per MMS: files are left out from the end of the list until
  the rest fits, and each one left out is reported with its reason.
- A plain-text file is not sent as an attachment: its text goes as SMS, one message of up to
  `MAX_TEXT_FILE_MESSAGE` characters each (a longer file, several).
- MMS go only from a +1 company number that has MMS (`mms = true`) to +1 numbers (US/Canadian MMS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from parley.core.numbers import is_nanp

MAX_FILES = 10
MAX_BYTES = 3_500_000
MAX_TEXT_FILE_MESSAGE = 4_500
TEXT_TYPES = frozenset({"text/plain"})


@dataclass(frozen=True)
class Attachment:
    id: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class LeftOut:
    attachment: Attachment
    reason: str

    def as_dict(self) -> dict[str, object]:
        a = self.attachment
        return {"id": a.id, "filename": a.filename, "size": a.size, "reason": self.reason}


@dataclass(frozen=True)
class Packed:
    """What goes as the MMS (``files``), what goes as SMS instead (``text_files``), what is left out."""

    files: tuple[Attachment, ...]
    text_files: tuple[Attachment, ...]
    left_out: tuple[LeftOut, ...]


def pack(attachments: Sequence[Attachment], *, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES) -> Packed:
    """Split ``attachments`` (in the order given) into the MMS's files, text files, and those left out."""
    text_files = tuple(a for a in attachments if is_text(a.content_type))
    files = [a for a in attachments if not is_text(a.content_type)]
    left_out: list[LeftOut] = []
    while len(files) > max_files:
        left_out.append(LeftOut(files.pop(), f"an MMS carries at most {max_files} files"))
    while files and sum(a.size for a in files) > max_bytes:
        left_out.append(LeftOut(files.pop(), f"an MMS carries at most {max_bytes:,} bytes"))
    return Packed(tuple(files), text_files, tuple(reversed(left_out)))


def is_text(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in TEXT_TYPES


def text_messages(text: str, *, limit: int = MAX_TEXT_FILE_MESSAGE) -> list[str]:
    """A text file's content as SMS bodies of at most ``limit`` characters, cut at a line or word end if one is
    near, never inside a surrogate pair (Python strings hold code points: no pair to cut)."""
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit + 1), text.rfind(" ", 0, limit + 1))
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


def mms_refusal(
    sender: str,
    to: str,
    *,
    mms_numbers: frozenset[str],
    carriers: Mapping[str, str] | None = None,
    mms_transports: frozenset[str] | None = None,
) -> str | None:
    """Why an MMS cannot go from ``sender`` to ``to``, or None when it can.

    ``carriers`` (company number -> its transport) and ``mms_transports`` (those that carry MMS), when
    given, also refuse an MMS that no transport could carry.
    """
    if not is_nanp(to):
        return "MMS can be sent only to +1 (US and Canadian) numbers"
    if not sender.startswith("+") or not is_nanp(sender):
        return "MMS can be sent only from a +1 company number"
    if sender not in mms_numbers:
        return f"the company number {sender} does not have MMS (mms = true in its settings)"
    if mms_transports is not None:
        carrier = (carriers or {}).get(sender)
        if carrier is not None and carrier not in mms_transports:
            return f'the number\'s carrier "{carrier}" does not carry MMS'
        if carrier is None and not mms_transports:
            return "no transport that carries MMS is configured (a Twilio or Telnyx account)"
    return None
