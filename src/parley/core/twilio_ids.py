"""Twilio-style message SIDs for Parley's message ids (issue 13 §1, §3): one mapping, used by the Twilio-compatible
API and by the status callbacks sent in Twilio's format.

A message id is 20 hex digits (`store.ids.new_id`); its SID is ``SM`` + the id zero-padded on the left to 32 hex
digits, so the mapping is reversible without a lookup table.
"""

from __future__ import annotations

import re

_ID = re.compile(r"[0-9a-f]{1,32}")
_SID = re.compile(r"SM[0-9a-f]{32}")


def message_sid(message_id: str) -> str:
    """``SM`` + the message id zero-padded to 32 hex digits. Raises ValueError for an id that is not hex."""
    if _ID.fullmatch(message_id) is None:
        raise ValueError(f"not a message id: {message_id!r}")
    return "SM" + message_id.rjust(32, "0")


def message_id(sid: str) -> str | None:
    """The message id behind a message SID, or None when ``sid`` is not one of ours (20 hex digits inside)."""
    if _SID.fullmatch(sid) is None or sid[2:14] != "0" * 12:
        return None
    return sid[14:]
