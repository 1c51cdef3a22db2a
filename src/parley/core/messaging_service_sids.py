"""Messaging Service SIDs for Parley's services (issue 13 §3), pure.

A service's ``MessagingServiceSid`` is ``MG`` + 32 hex digits derived from the installation's account SID and the
service id (HMAC-SHA256, cut to 128 bits): stable across restarts and hosts, different between installations, and
never stored. The services API shows it; the Twilio-compatible API reads it back by computing it again.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_SERVICE_SID = re.compile(r"MG[0-9a-f]{32}")


def messaging_service_sid(account_sid: str, service_id: int) -> str:
    """The ``MG…`` SID of a service: HMAC-SHA256(account SID, "service:<id>"), its first 16 bytes in hex."""
    digest = hmac.new(account_sid.encode(), f"service:{service_id}".encode(), hashlib.sha256).digest()
    return "MG" + digest[:16].hex()


def is_messaging_service_sid(value: str) -> bool:
    return _SERVICE_SID.fullmatch(value) is not None
