"""Who may use Mail2SMS: the ``allowed_senders`` patterns of the Mail2SMS profile, matched against the
sender's email address. Pure.

A pattern is an address whose ``*`` stands for any run of characters other than ``@``:
``ops@example.org`` (that address), ``*@example.com`` (anyone at that domain, not its subdomains),
``*@*.example.com`` (anyone at a subdomain). Matching ignores case. No patterns: anyone may send.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_PATTERN = re.compile(r"[^@\s]+@[^@\s]+")


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a sender pattern, or None."""
    if not _PATTERN.fullmatch(pattern):
        return f'"{pattern}" is not an address pattern such as ops@example.org or *@example.com'
    domain = pattern.rpartition("@")[2]
    if domain.strip("*.") == "":
        return f'"{pattern}" would allow every domain'
    return None


def read_patterns(text: str) -> list[str]:
    """Patterns as typed into a form: one per line, or separated by commas or spaces."""
    return [p for p in re.split(r"[\s,;]+", text) if p]


def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile("[^@]*".join(re.escape(part) for part in pattern.lower().split("*")))


def sender_allowed(patterns: Iterable[str], address: str) -> bool:
    """True when ``address`` matches one of ``patterns`` (or there are none)."""
    patterns = list(patterns)
    if not patterns:
        return True
    address = address.strip().lower()
    return bool(address) and any(_regex(p).fullmatch(address) for p in patterns)
