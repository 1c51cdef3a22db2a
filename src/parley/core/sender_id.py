"""Alphanumeric sender IDs made from a user's full name, as the Wildix contract's Sender rule says.

contracts/wildix-sms-api.md: "only GSM 03.38 basic characters (the listed set), capitals outside that set
lowered when their small letter is in it (Ö → ö), other characters replaced by the nearest plain letter
(â → a) or ``?``, cut to 11 characters." Eleven is the longest alphanumeric originator the TP-OA field carries
(3GPP TS 23.040 §9.1.2.5: 10 octets of packed septets).

Pure: no I/O.
"""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 11

# The contract's set: the GSM 03.38 default alphabet without ' Ä Ö Ñ Ü § ¿ and the control characters.
ALLOWED = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    ' !"#¤%&()*+,-./:;<>=?¡äöñüà'
)

# Letters with a stroke or ligatures have no Unicode decomposition, so NFKD cannot find their plain letter.
_NO_DECOMPOSITION = {
    "Ł": "L",
    "ł": "l",
    "Đ": "D",
    "đ": "d",
    "Ð": "D",
    "ð": "d",
    "Ħ": "H",
    "ħ": "h",
    "ı": "i",
    "Ŧ": "T",
    "ŧ": "t",
    "Ŋ": "N",
    "ŋ": "n",
    "Œ": "OE",
    "œ": "oe",
    "Þ": "Th",
    "þ": "th",
    "ĸ": "k",
}


def _is_invisible(ch: str) -> bool:
    """Marks and format characters that belong to the character before them (accents, ZWJ, skin tones)."""
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Cf") or 0x1F3FB <= ord(ch) <= 0x1F3FF or (0xFE00 <= ord(ch) <= 0xFE0F)
    )


def _carrier_safe(ch: str) -> str:
    """One character of a name made carrier-safe: itself, lowered, a plain letter, ``?``, or nothing."""
    if ch in ALLOWED:
        return ch
    if ch.lower() in ALLOWED:  # Ö → ö, È → è; str.lower of one letter may give two (İ), which never matches
        return ch.lower()
    if ch.isspace():  # no-break and other spaces
        return " "
    if _is_invisible(ch):
        return ""
    if ch in _NO_DECOMPOSITION:
        return _NO_DECOMPOSITION[ch]
    # NFKD splits â into a + combining circumflex and folds compatibility forms (full-width Ａ, ligature ﬁ).
    plain = "".join(c for c in unicodedata.normalize("NFKD", ch) if not _is_invisible(c))
    if plain and all(c in ALLOWED for c in plain):
        return plain
    if plain and all(c.lower() in ALLOWED for c in plain):
        return plain.lower()
    return "?"


def make_sender_id(full_name: str) -> str:
    """The alphanumeric sender ID for a user's full name: contract characters only, at most 11.

    Surrounding spaces are stripped before and after the cut so none of the 11 is wasted. A name with
    nothing left (empty, only spaces) gives ``"?"``: an empty originator would be rejected by carriers, and a
    visible placeholder is easier to trace back to a user with no name than a silent default.
    """
    safe = "".join(_carrier_safe(ch) for ch in full_name).strip()
    return safe[:MAX_LENGTH].rstrip() or "?"
