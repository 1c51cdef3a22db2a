"""Secrets out of log lines: passwords, tokens, Authorization headers, curl's ``-u user:pass``, API keys'
secrets (``Bearer …``, ``SK…:secret``, ``psk_…``). Pure.

`redact` masks what looks like a secret inside any text (an event's fields, a formatted traceback, a
library's message); `is_secret_key` names the fields whose whole value is one. Redaction is a safety net
under the rule that code never logs a secret: it knows the shapes secrets travel in, not every secret.
"""

from __future__ import annotations

import re

MASK = "***"

_SECRET_WORD = r"(?:sms)?pass(?:word|wd)?|pwd|secret|token|api[_-]?key"
_SECRET_KEY = re.compile(
    rf"^(?:.*[_-])?(?:{_SECRET_WORD}|authorization|credentials?|cookie|set-cookie)$", re.IGNORECASE
)
_PATTERNS = (
    # Authorization: Basic dXNlcjpwYXNz / ('authorization', 'Bearer …') / "Authorization": "…"
    (
        re.compile(
            r"((?:proxy-)?authorization['\"]?\s*[:=,]\s*[(\[]?\s*(?:b?['\"])?)(?:(?:basic|bearer|digest)\s+)?[^\s'\",)\]]+",
            re.IGNORECASE,
        ),
        rf"\1{MASK}",
    ),
    # A bearer token anywhere, not only after "Authorization" (an httpx request's repr, a proxy's line)
    (re.compile(r"(\bbearer\s+)[^\s'\",)\]]+", re.IGNORECASE), rf"\1{MASK}"),
    # An API key's SID and secret as a Twilio client's Basic credentials: SK<32 hex>:secret
    (re.compile(r"(\bSK[0-9a-f]{32}:)[^\s@'\",;)\]]+"), rf"\1{MASK}"),
    # An API key's secret on its own (core.api_keys.SECRET_PREFIX): a pasted one, a body echoed in an error
    (re.compile(r"\bpsk_[A-Za-z0-9_\-]{8,}"), f"psk_{MASK}"),
    # curl -u user:pass, --user=user:pass, --user 'user:pass'
    (re.compile(r"((?:^|\s)(?:-u|--user)(?:\s+|=)['\"]?)[^\s'\"]+"), rf"\1{MASK}"),
    # scheme://user:pass@host
    (re.compile(r"(//[^/\s:@]+:)[^@\s/]+@"), rf"\1{MASK}@"),
    # password=…, SMSPASSWORD: …, "token": "…", api_key='…'
    (
        re.compile(rf"(\b[\w-]*(?:{_SECRET_WORD})['\"]?\s*[:=]\s*(?:b?['\"])?)[^\s&'\",;)}}\]]+", re.IGNORECASE),
        rf"\1{MASK}",
    ),
)


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.match(key))


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
