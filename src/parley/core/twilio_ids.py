"""Twilio-style SIDs for Parley's own objects (issue 13 §3), pure.

A message's SID is ``SM`` + its Parley id (20 lowercase hex digits, store/ids.py) left-padded with zeros to 32
hex digits, so the SID and the id convert both ways without a lookup table. A service's Messaging Service SID
is ``MG`` + 32 hex digits derived from the installation's account SID and the service id (HMAC-SHA256, cut to
128 bits): stable across restarts and hosts, different between installations, and never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re

MESSAGE_ID_LENGTH = 20  # store/ids.py: 12 hex digits of milliseconds + 8 random ones
_SID_DIGITS = 32
_MESSAGE_ID = re.compile(r"[0-9a-f]{1,32}")
_MESSAGE_SID = re.compile(r"SM(0{12})([0-9a-f]{20})")
_SERVICE_SID = re.compile(r"MG[0-9a-f]{32}")


def message_sid(message_id: str) -> str:
    """``SM`` + the message id zero-padded to 32 hex digits; raises ValueError for an id that is not hex."""
    if _MESSAGE_ID.fullmatch(message_id) is None:
        raise ValueError(f"message id {message_id!r} is not 1-32 lowercase hex digits")
    return "SM" + message_id.rjust(_SID_DIGITS, "0")


def message_id(sid: str) -> str | None:
    """The Parley message id behind a message SID, or None when ``sid`` is not one of ours."""
    match = _MESSAGE_SID.fullmatch(sid)
    return match.group(2) if match is not None else None


def messaging_service_sid(account_sid: str, service_id: int) -> str:
    """The ``MG…`` SID of a service: HMAC-SHA256(account SID, "service:<id>"), its first 16 bytes in hex."""
    digest = hmac.new(account_sid.encode(), f"service:{service_id}".encode(), hashlib.sha256).digest()
    return "MG" + digest[:16].hex()


def is_messaging_service_sid(value: str) -> bool:
    return _SERVICE_SID.fullmatch(value) is not None
