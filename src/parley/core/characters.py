"""Characters no stored text may hold, found and named, or cleaned away. Pure.

PostgreSQL refuses U+0000 in text (``invalid byte sequence for encoding "UTF8": 0x00``) and a lone surrogate
(U+D800–U+DFFF without its pair) cannot be encoded as UTF-8 at all, so neither database driver can write one. A
value that reaches a group commit holding one fails the whole transaction, and with it every other request that
shared it (issue 9 §1). Other control characters are stored fine but are never meant: they are invisible, break
terminals, CSV exports and carriers' gateways. So every text that comes in is checked here, once, at its ingress:
what a person or a client sent is refused with `UnsafeText` naming the field; what a carrier sent (which we cannot
refuse for its content) is `clean`-ed and the message keeps a note of it.

Allowed: every printable character, tab, and the line and page breaks GSM 03.38 itself carries (LF, CR, and form
feed in its extension table). Refused: the other C0 controls (U+0000–U+001F), DEL and the C1 controls
(U+007F–U+009F), and lone surrogates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Surrogates are matched one at a time: a Python str never holds a *valid* pair as two code points (decoding joins
# them), so any surrogate code point in a str is a lone one.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class Unsafe:
    """The first unsafe character of a text: where it is (0-based) and what it is."""

    position: int
    char: str

    @property
    def what(self) -> str:
        """``a NUL character (U+0000)``, ``a control character (U+001B)``, ``a lone surrogate (U+D800)``."""
        code = ord(self.char)
        kind = "a NUL character" if code == 0 else "a lone surrogate" if code >= 0xD800 else "a control character"
        return f"{kind} (U+{code:04X})"


class UnsafeText(ValueError):
    """A field holds a character no stored text may hold. ``reason`` names the field and the character."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def find_unsafe(text: str) -> Unsafe | None:
    """The first control character (other than tab, LF, FF, CR) or lone surrogate in ``text``; None if none."""
    found = _UNSAFE.search(text)
    return Unsafe(found.start(), found.group()) if found else None


def problem(label: str, text: str) -> str | None:
    """Why ``text`` (the value of the field called ``label``) cannot be taken, in one sentence; None when it can.

    ``label`` starts the sentence as written: ``Message holds a NUL character (U+0000) at position 2; …``.
    """
    found = find_unsafe(text)
    if found is None:
        return None
    return (
        f"{label} holds {found.what} at position {found.position + 1}; "
        "control characters (other than tab and line breaks) and lone surrogates are not allowed"
    )


def check(field: str, text: str, *, label: str | None = None) -> str:
    """``text`` unchanged, or `UnsafeText` for ``field`` (named ``label`` in the reason, default the field name)."""
    reason = problem(label if label is not None else field, text)
    if reason is not None:
        raise UnsafeText(field, reason)
    return text


@dataclass(frozen=True)
class Cleaned:
    """A text with its unsafe characters replaced; ``note`` says what was replaced (None when nothing was)."""

    text: str
    note: str | None


def clean(text: str, *, what: str = "text") -> Cleaned:
    """``text`` with each unsafe character replaced by U+FFFD (so a reader sees that something was there).

    For what a carrier or a peer sent: it is stored, never refused. ``note`` names the characters replaced, for the
    message's record: ``2 characters of the text could not be stored and were replaced by U+FFFD: U+0000, U+D800``.
    """
    found = _UNSAFE.findall(text)
    if not found:
        return Cleaned(text, None)
    distinct = list(dict.fromkeys(f"U+{ord(ch):04X}" for ch in found))
    codes = ", ".join(distinct[:5]) + (", …" if len(distinct) > 5 else "")
    count = len(found)
    note = (
        f"{count} character{'s' if count > 1 else ''} of the {what} could not be stored "
        f"and {'were' if count > 1 else 'was'} replaced by U+FFFD: {codes}"
    )
    return Cleaned(_UNSAFE.sub(REPLACEMENT, text), note)


def is_clean(text: str) -> bool:
    return _UNSAFE.search(text) is None
