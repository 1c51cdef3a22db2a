"""Reply links (issue 14 §1, seed 001 "you can add a Kite link to the SMS message"): the pure rules. No I/O.

A ``{reply_link}`` in a message becomes ``<public URL>/r/<token>``, one link per recipient. The token is 12
characters of [A-Za-z0-9]: 71 bits of randomness, so links cannot be guessed or enumerated, yet the link stays
short (an SMS segment is 160 GSM-7 characters; ``https://sms.example.com/r/`` + 12 is 38 of them). Only the
token's SHA-256 is stored: the link is found by the hash, and a token changed in any character finds nothing.
What a link is bound to (one customer, one company number) lives in its row, never in the URL, so a link
cannot be turned into another customer's.

Posting through a link: a form field ``text``, read by `read_post` from at most `MAX_POST_BYTES` bytes; posts are
counted in fixed windows per link and per client address (`RATES`, `next_window`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs

PLACEHOLDER = "{reply_link}"
NAME = "reply_link"  # the placeholder's name in campaign templates (`core.templates`)
TOKEN_LENGTH = 12
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
DEFAULT_DAYS = 30
MAX_DAYS = 365
MAX_TEXT = 1000  # characters a customer may write in one message on the page
MAX_POST_BYTES = 16 * 1024  # a form with MAX_TEXT characters, each percent-encoded UTF-8 (up to 12 bytes), fits
_TOKEN = re.compile(f"[{ALPHABET}]{{{TOKEN_LENGTH}}}")


@dataclass(frozen=True)
class Rate:
    posts: int  # allowed in one window
    window: timedelta


# Per link: a person typing. Per address: a few people behind one NAT, but no flood from one place.
RATES = {
    "link": Rate(posts=10, window=timedelta(minutes=1)),
    "address": Rate(posts=30, window=timedelta(minutes=1)),
}


class PostError(ValueError):
    """What was posted cannot be taken; ``field`` names the form field at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def new_token() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(TOKEN_LENGTH))


def is_token(value: str) -> bool:
    """Whether ``value`` has a token's shape (anything else is refused before the database is asked)."""
    return _TOKEN.fullmatch(value) is not None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def link_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/r/{token}"


def sample_link(base: str) -> str:
    """A link as long as every real one, for counters that measure a draft before its links exist."""
    return link_url(base, "x" * TOKEN_LENGTH)


def has_placeholder(text: str) -> bool:
    return PLACEHOLDER in text


def fill(text: str, url: str) -> str:
    """``text`` with every ``{reply_link}`` replaced by ``url`` (Send SMS and conversation replies)."""
    return text.replace(PLACEHOLDER, url)


def expiry_days(setting: object) -> int:
    """The link lifetime from the ``pbx.reply_link_days`` setting: `DEFAULT_DAYS` when unset or unusable."""
    if isinstance(setting, int) and not isinstance(setting, bool) and 1 <= setting <= MAX_DAYS:
        return setting
    return DEFAULT_DAYS


def is_live(expires_at: datetime, now: datetime) -> bool:
    return now < expires_at


def next_window(start: datetime | None, count: int, now: datetime, rate: Rate) -> tuple[datetime, int, bool]:
    """The counter after one more post: (window start, count, allowed). A window that has ended starts anew."""
    if start is None or now >= start + rate.window or now < start:
        return now, 1, True
    if count >= rate.posts:
        return start, count, False
    return start, count + 1, True


def read_post(body: bytes) -> str:
    """The customer's text from a posted form (``application/x-www-form-urlencoded``, field ``text``).

    Raises `PostError` for a body that is too large, not UTF-8, without exactly one ``text``, empty, too long,
    or holding control characters (other than line breaks and tabs)."""
    if len(body) > MAX_POST_BYTES:
        raise PostError("text", f"the form is larger than {MAX_POST_BYTES} bytes")
    try:
        decoded = body.decode("ascii")
        fields = parse_qs(decoded, keep_blank_values=True, strict_parsing=False, errors="strict", max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise PostError("text", "the form is not URL-encoded UTF-8") from None
    values = fields.get("text", [])
    if len(values) != 1:
        raise PostError("text", "give one text")
    text = values[0].replace("\r\n", "\n").strip()
    if not text:
        raise PostError("text", "the message is empty")
    if len(text) > MAX_TEXT:
        raise PostError("text", f"the message is longer than {MAX_TEXT} characters")
    if any((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000 for c in text):
        raise PostError("text", "the message holds characters that cannot be sent")
    return text
