"""Message text: GSM 03.38 / UCS-2, segment counts and splitting for concatenation.

References:
- 3GPP TS 23.038 (formerly GSM 03.38) §6.2.1: the GSM 7 bit default alphabet and its extension table.
- 3GPP TS 23.038 §6.1.2.1: packing of 7 bit characters into octets.
- 3GPP TS 23.040 §9.2.3.24.1: concatenated short messages. The 6-octet UDH (IEI 0x00) leaves 153 septets
  (134 octets of 140) for GSM 7 bit text and 67 UTF-16 code units (134 octets) for UCS-2 in each part.

Pure: no I/O.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Encoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


# 140 octets of user data (TS 23.040 §9.2.3.24): 160 septets or 70 UCS-2 code units in a single message,
# less the 6-octet concatenation header in each part of a longer one.
GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67

# TS 23.038 §6.2.1, the default alphabet in code order (0x00-0x7F). 0x1B is the escape to the extension
# table, not a character, so it is a placeholder here and never matched.
_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_ESC = 0x1B

_BASIC: dict[str, int] = {ch: code for code, ch in enumerate(_BASIC_TABLE) if code != _ESC}

# TS 23.038 §6.2.1.1, the extension table: each character is sent as ESC followed by its code (2 septets).
_EXTENSION: dict[str, int] = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
_EXTENSION_BY_CODE: dict[int, str] = {code: ch for ch, code in _EXTENSION.items()}

# Characters the Wildix API replaces with a space before sending (contracts/wildix-sms-api.md).
_WILDIX_REPLACED = str.maketrans(dict.fromkeys("'\"“”\\/", " "))


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM 03.38 default alphabet or its extension table."""
    return all(ch in _BASIC or ch in _EXTENSION for ch in text)


def encoding_for(text: str) -> Encoding:
    """The cheapest encoding able to carry ``text``: GSM 7 bit when possible, else UCS-2."""
    return Encoding.GSM7 if is_gsm7(text) else Encoding.UCS2


def _septet_cost(ch: str) -> int:
    if ch in _BASIC:
        return 1
    if ch in _EXTENSION:
        return 2
    raise ValueError(f"{ch!r} (U+{ord(ch):04X}) is not in the GSM 03.38 alphabet")


def _ucs2_cost(ch: str) -> int:
    # Outside the Basic Multilingual Plane UTF-16 needs a surrogate pair: two code units.
    return 2 if ord(ch) > 0xFFFF else 1


def septets(text: str) -> int:
    """Septets needed for ``text`` in GSM 7 bit; extension characters cost two (ESC + code).

    Raises ValueError when a character is outside the GSM 03.38 alphabet.
    """
    return sum(_septet_cost(ch) for ch in text)


def units(text: str, encoding: Encoding) -> int:
    """Length in the encoding's units: septets for GSM 7 bit, UTF-16 code units for UCS-2."""
    if encoding is Encoding.GSM7:
        return septets(text)
    return sum(_ucs2_cost(ch) for ch in text)


@dataclass(frozen=True)
class Segments:
    """A text cut into the parts sent as one (concatenated) SMS.

    ``units`` is the length of the whole text in the encoding's units.
    """

    encoding: Encoding
    parts: tuple[str, ...]
    units: int

    @property
    def count(self) -> int:
        """Number of SMS segments (what carriers bill)."""
        return len(self.parts)


def split(text: str, encoding: Encoding | None = None) -> Segments:
    """Cut ``text`` into SMS segments.

    One part when the text fits a single message (160 septets / 70 code units); otherwise parts of at most
    153 septets / 67 code units (TS 23.040 §9.2.3.24.1). An extension character (ESC + code) and a surrogate
    pair are never cut, and ``"".join(parts) == text`` always holds. Parts also end on a grapheme cluster
    boundary (approximated, see ``_clusters``) unless one cluster alone is longer than a part.

    ``encoding`` defaults to ``encoding_for(text)``; forcing GSM 7 bit on text outside the GSM 03.38 alphabet
    raises ValueError.
    """
    enc = encoding if encoding is not None else encoding_for(text)
    cost = _septet_cost if enc is Encoding.GSM7 else _ucs2_cost
    costs = [cost(ch) for ch in text]
    total = sum(costs)
    single, limit = (GSM7_SINGLE, GSM7_PART) if enc is Encoding.GSM7 else (UCS2_SINGLE, UCS2_PART)
    if total <= single:
        return Segments(enc, (text,), total)

    parts: list[str] = []
    start = 0  # index in text where the current part begins
    used = 0  # units in the current part
    for lo, hi in _clusters(text):
        size = sum(costs[lo:hi])
        if used + size <= limit:
            used += size
            continue
        if size <= limit:
            # The cluster fits a part of its own: close the current part before it.
            parts.append(text[start:lo])
            start, used = lo, size
            continue
        # A cluster longer than a part (a long run of combining marks): cut it between code points.
        for i in range(lo, hi):
            if used + costs[i] > limit:
                parts.append(text[start:i])
                start, used = i, 0
            used += costs[i]
    parts.append(text[start:])
    return Segments(enc, tuple(parts), total)


_ZWJ = "\u200d"


def _is_extender(ch: str) -> bool:
    """Code points that never start a grapheme cluster (a cheap subset of UAX #29 Extend/SpacingMark)."""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or ch == _ZWJ
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors
        or 0x1F3FB <= cp <= 0x1F3FF  # emoji skin tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # emoji tag sequences (subdivision flags)
        or 0xE0100 <= cp <= 0xE01EF  # variation selectors supplement
    )


def _is_regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _clusters(text: str) -> list[tuple[int, int]]:
    """Approximate grapheme clusters as (start, end) index pairs covering ``text``.

    Not full UAX #29 (the standard library has no segmenter): keeps CR LF, a base with its combining marks,
    ZWJ emoji sequences, skin tones, variation selectors and flag pairs together, which covers what
    people type. Hangul jamo sequences and Indic conjuncts may still be cut: still correct, only less pretty.
    """
    bounds: list[tuple[int, int]] = []
    lo = 0
    pending_ri = False  # the current cluster is one regional indicator waiting for its pair
    for i, ch in enumerate(text):
        if i == 0:
            pending_ri = _is_regional_indicator(ch)
            continue
        prev = text[i - 1]
        joins = (
            (prev == "\r" and ch == "\n")
            or _is_extender(ch)
            or prev == _ZWJ
            or (pending_ri and _is_regional_indicator(ch))
        )
        if joins:
            pending_ri = False
            continue
        bounds.append((lo, i))
        lo = i
        pending_ri = _is_regional_indicator(ch)
    if text:
        bounds.append((lo, len(text)))
    return bounds


def encode_gsm7(text: str) -> bytes:
    """Encode as unpacked GSM 7 bit: one septet per octet, as SMPP carries data_coding 0.

    Extension characters become ESC (0x1B) followed by their code. Raises ValueError on a character outside
    the GSM 03.38 alphabet.
    """
    out = bytearray()
    for ch in text:
        code = _BASIC.get(ch)
        if code is not None:
            out.append(code)
            continue
        ext = _EXTENSION.get(ch)
        if ext is None:
            raise ValueError(f"{ch!r} (U+{ord(ch):04X}) is not in the GSM 03.38 alphabet")
        out += bytes((_ESC, ext))
    return bytes(out)


def decode_gsm7(data: bytes) -> str:
    """Decode unpacked GSM 7 bit (one septet per octet). Never raises: this is peer data.

    Per TS 23.038 §6.2.1.1 an escape followed by a code with no extension character shows the default
    alphabet's character for that code, and ESC ESC (reserved for a further table) or a trailing ESC shows a
    space. An octet above 0x7F is not a septet and becomes U+FFFD.
    """
    out: list[str] = []
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        i += 1
        if code > 0x7F:
            out.append("\ufffd")
        elif code != _ESC:
            out.append(_BASIC_TABLE[code])
        elif i >= n or data[i] == _ESC:
            out.append(" ")
            i += 1
        else:
            nxt = data[i]
            i += 1
            if nxt in _EXTENSION_BY_CODE:
                out.append(_EXTENSION_BY_CODE[nxt])
            elif nxt <= 0x7F:
                out.append(_BASIC_TABLE[nxt])
            else:
                out.append("\ufffd")
    return "".join(out)


def pack_septets(data: bytes) -> bytes:
    """Pack septets (one per octet, high bit ignored) into octets, TS 23.038 §6.1.2.1.1.

    The first septet fills the low bits of the first octet. Spare bits of the last octet are zero: in SMS the
    user data length counts septets (TS 23.040 §9.2.3.16), so no <CR> padding is needed.
    """
    out = bytearray()
    acc = 0
    bits = 0
    for septet in data:
        acc |= (septet & 0x7F) << bits
        bits += 7
        while bits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            bits -= 8
    if bits:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int) -> bytes:
    """Unpack ``count`` septets from packed octets (inverse of ``pack_septets``), one per output octet.

    Returns fewer septets when ``data`` is too short rather than raising.
    """
    count = max(0, min(count, len(data) * 8 // 7))
    out = bytearray()
    acc = 0
    bits = 0
    it = iter(data)
    while len(out) < count:
        if bits < 7:
            acc |= next(it) << bits
            bits += 8
        out.append(acc & 0x7F)
        acc >>= 7
        bits -= 7
    return bytes(out)


def encode_ucs2(text: str) -> bytes:
    """Encode as UTF-16-BE (SMPP data_coding 8). Characters outside the BMP become surrogate pairs."""
    # surrogatepass: a lone surrogate already in the str is carried rather than raising.
    return text.encode("utf-16-be", "surrogatepass")


def decode_ucs2(data: bytes) -> str:
    """Decode UTF-16-BE from a peer. Never raises: an odd trailing byte or a lone surrogate becomes U+FFFD."""
    return data.decode("utf-16-be", "replace")


def replace_wildix_chars(text: str) -> str:
    """Replace ``' " “ ” \\ /`` with a space, as the Wildix SMS API does before sending."""
    return text.translate(_WILDIX_REPLACED)
