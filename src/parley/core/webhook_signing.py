"""Signatures of outbound webhooks (issue 13 §1): Parley's own and Twilio's.

Parley: ``Parley-Signature: t=<unix seconds of this attempt>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``; the
timestamp is in the signed text, so a receiver can refuse replays older than a few minutes.

Twilio (status callbacks of Twilio-compatible sends): ``X-Twilio-Signature`` = base64(HMAC-SHA1(secret, url + each
POST parameter's name and value concatenated, sorted by name)), as twilio's ``RequestValidator`` checks it
(docs/wire-formats: Twilio; https://www.twilio.com/docs/usage/security#validating-requests).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

HEADER = "Parley-Signature"
TWILIO_HEADER = "X-Twilio-Signature"


def parley_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Parley-Signature`` header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def parse_parley_signature(header: str) -> tuple[int, list[str]] | None:
    """The timestamp and the v1 signatures of a header value, or None when it is not one."""
    timestamp: int | None = None
    macs: list[str] = []
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            return None
        if name == "t":
            if not value.isdigit() or len(value) > 12:
                return None
            timestamp = int(value)
        elif name == "v1":
            macs.append(value)
    if timestamp is None or not macs:
        return None
    return timestamp, macs


def verify_parley_signature(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and its timestamp is within ``tolerance`` s of ``now``."""
    parsed = parse_parley_signature(header)
    if parsed is None:
        return False
    timestamp, macs = parsed
    if abs(now - timestamp) > tolerance:
        return False
    expected = parley_signature(secret, timestamp, body).partition(",v1=")[2]
    return any(hmac.compare_digest(expected, mac) for mac in macs)


def twilio_signature(secret: str, url: str, params: Mapping[str, str]) -> str:
    """The ``X-Twilio-Signature`` of a form POST of ``params`` to ``url``."""
    text = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()).decode()
