"""API keys, the pure part (issue 13 §2): identifiers, scopes, the Bearer header, and which scope a route needs.

A key is named by a Twilio-style key SID (``SK`` + 32 lowercase hex digits) and proven by a random secret; the
installation has one account SID (``AC`` + 32 hex digits). Both SIDs have Twilio's shape so that Twilio's own
client libraries can authenticate with ``(key_sid, key_secret, account_sid)``.

A key carries its owner's rights narrowed to its scopes. Which scope each /api/v2 route needs is decided here,
in `ROUTE_SCOPES`, and nowhere else: `ingress.api_auth.current_user` asks `scope_for` on every request made with
a key. A route the table does not know needs ``admin`` (fail closed), and a test walks the app's routes so that
a new route gets its row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SCOPES = ("send", "read", "conversations", "admin")
SECRET_PREFIX = "psk_"  # "Parley secret key": makes a leaked secret recognisable (logs, secret scanners)
SECRET_BYTES = 32  # random bytes behind a secret (43 urlsafe base64 characters)
MAX_SECRET_LENGTH = 200  # anything longer is not one of ours: refused before any hashing or lookup

_KEY_SID = re.compile(r"SK[0-9a-f]{32}")
_ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")
_SECRET_CHARS = re.compile(r"[A-Za-z0-9_\-]+")

# (path prefix, {method or "*": scope}); the first prefix that matches wins, so longer prefixes come first.
# Routes under /api/v2/webhooks are carriers' callbacks with their own signatures: a key never reaches them.
ROUTE_SCOPES: tuple[tuple[str, dict[str, str]], ...] = (
    ("/api/v2/api-keys", {"*": "admin"}),  # a key manages keys only with the admin scope (users use the console)
    ("/api/v2/webhook-endpoints", {"GET": "read", "*": "admin"}),  # where events go: only with the admin scope
    ("/api/v2/transports", {"*": "admin"}),
    ("/api/v2/numbers", {"*": "admin"}),
    ("/api/v2/blocks", {"*": "admin"}),
    ("/api/v2/messages", {"GET": "read", "POST": "send"}),
    ("/api/v2/services", {"GET": "read"}),  # the caller's services and their Messaging Service SIDs
    ("/api/v2/media", {"GET": "read", "POST": "send"}),
    ("/api/v2/events", {"GET": "read"}),
    ("/api/v2/conversations", {"*": "conversations"}),
    ("/api/v2/calls", {"*": "conversations"}),
    ("/api/v2/blocklist", {"GET": "read", "POST": "send", "DELETE": "admin"}),
    ("/api/v2/campaigns", {"GET": "read", "*": "send"}),
    ("/api/v2/lists", {"GET": "read", "*": "send"}),
    ("/api/v2/whatsapp/templates/preview", {"POST": "send"}),
    ("/api/v2/whatsapp/templates/sync", {"*": "admin"}),
    ("/api/v2/whatsapp/templates", {"GET": "read", "*": "admin"}),
)
FAIL_CLOSED = "admin"


def key_sid(random_bytes: bytes) -> str:
    """A key SID from 16 random bytes."""
    if len(random_bytes) != 16:
        raise ValueError("a key SID takes 16 random bytes")
    return "SK" + random_bytes.hex()


def account_sid(random_bytes: bytes) -> str:
    """The installation's account SID from 16 random bytes."""
    if len(random_bytes) != 16:
        raise ValueError("an account SID takes 16 random bytes")
    return "AC" + random_bytes.hex()


def is_key_sid(value: str) -> bool:
    return _KEY_SID.fullmatch(value) is not None


def is_account_sid(value: str) -> bool:
    return _ACCOUNT_SID.fullmatch(value) is not None


def could_be_secret(value: str) -> bool:
    """Whether ``value`` has a secret's shape (our prefix, urlsafe characters, a sane length): anything else is
    refused without touching the database."""
    body = value.removeprefix(SECRET_PREFIX)
    return (
        value.startswith(SECRET_PREFIX)
        and 0 < len(value) <= MAX_SECRET_LENGTH
        and _SECRET_CHARS.fullmatch(body) is not None
    )


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (RFC 6750 §2.1; the scheme is case-insensitive),
    or None when the header is missing, another scheme, or carries no single token of a possible length.

    Whether the token has a secret's shape is the caller's question (`could_be_secret`): a wrong one still
    counts as a failed attempt."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = value.strip()
    if not token or len(token) > MAX_SECRET_LENGTH or any(c.isspace() for c in token):
        return None
    return token


def parse_scopes(values: Iterable[object]) -> tuple[str, ...]:
    """The scopes named, in `SCOPES` order; raises ValueError naming the first unknown one or when none is given."""
    given: set[str] = set()
    for value in values:
        if not isinstance(value, str) or value not in SCOPES:
            raise ValueError(f"unknown scope {value!r}: choose among {', '.join(SCOPES)}")
        given.add(value)
    if not given:
        raise ValueError(f"give at least one scope among {', '.join(SCOPES)}")
    return tuple(scope for scope in SCOPES if scope in given)


def scope_for(method: str, path: str) -> str:
    """The scope a key needs to call ``method path`` (``path`` is the route's template, e.g.
    ``/api/v2/messages/{message_id}``); ``admin`` for a route `ROUTE_SCOPES` does not know."""
    method = "GET" if method.upper() == "HEAD" else method.upper()
    for prefix, by_method in ROUTE_SCOPES:
        if path == prefix or path.startswith(prefix + "/"):
            scope = by_method.get(method, by_method.get("*"))
            return scope if scope is not None else FAIL_CLOSED
    return FAIL_CLOSED


def is_known_route(method: str, path: str) -> bool:
    """Whether `ROUTE_SCOPES` decides ``method path`` itself (rather than falling closed to ``admin``)."""
    for prefix, by_method in ROUTE_SCOPES:
        if path == prefix or path.startswith(prefix + "/"):
            return method.upper() in by_method or "*" in by_method
    return False
