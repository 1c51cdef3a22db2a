"""Outbound webhook events (issue 13 §1): their types, who may receive them, their envelope, when to retry.

Pure: the services give the objects (as the API returns them) and the time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

MESSAGE_STATUS = "message.status"
MESSAGE_RECEIVED = "message.received"
CONVERSATION_CREATED = "conversation.created"
CONVERSATION_UPDATED = "conversation.updated"
CAMPAIGN_FINISHED = "campaign.finished"
EVENT_TYPES = (MESSAGE_STATUS, MESSAGE_RECEIVED, CONVERSATION_CREATED, CONVERSATION_UPDATED, CAMPAIGN_FINISHED)

# Retries: about 1 s and 5 s after the first failure, then growing, for 24 hours after the event.
RETRY_DELAYS = (1, 5, 30, 120, 600, 1800, 3600)
GIVE_UP_AFTER = timedelta(hours=24)
DISABLE_AFTER = timedelta(hours=24)  # an endpoint failing this long without one success is disabled
ANSWER_KEPT = 2000  # characters of a receiver's answer kept with each attempt

# Message statuses as Twilio names them (its MessageStatus values) for Twilio-format status callbacks.
_TWILIO_STATUS = {
    "scheduled": "scheduled",
    "queued": "queued",
    "sending": "sending",
    "submitting": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "undelivered",
    "failed": "failed",
    "cancelled": "canceled",
    "received": "received",
}


def check_events(events: object) -> list[str]:
    """The event types of an endpoint, de-duplicated in order; raises ValueError naming an unknown one."""
    if not isinstance(events, list) or not events:
        raise ValueError(f"must be a non-empty list of: {', '.join(EVENT_TYPES)}")
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}")
    return list(dict.fromkeys(str(e) for e in events))


def may_see(*, is_admin: bool, owner_id: int, audience: frozenset[int]) -> bool:
    """Whether an endpoint's owner may receive an event seen by ``audience`` (admins receive every event)."""
    return is_admin or owner_id in audience


def envelope(event_id: str, event_type: str, created_at: datetime, data: Mapping[str, Any]) -> str:
    """The JSON body of a delivery: fixed once, so every retry sends the same bytes."""
    at = created_at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"id": event_id, "type": event_type, "created_at": at, "data": data}, separators=(",", ":"),
                      default=str)  # fmt: skip


def retry_at(attempts: int, first_at: datetime, now: datetime) -> datetime | None:
    """When to try again after ``attempts`` failed attempts (1 for the first), or None: 24 hours have passed."""
    delay = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1] if attempts >= 1 else 0
    due = now + timedelta(seconds=delay)
    return None if due - first_at > GIVE_UP_AFTER else due


def twilio_status(status: str) -> str:
    return _TWILIO_STATUS.get(status, status)


def twilio_params(
    *, message_sid: str, account_sid: str, status: str, sender: str, recipient: str, error_code: str | None
) -> dict[str, str]:
    """The form parameters of a Twilio status callback (MessageStatus and SmsStatus carry the same value)."""
    name = twilio_status(status)
    params = {
        "MessageSid": message_sid,
        "SmsSid": message_sid,
        "AccountSid": account_sid,
        "MessageStatus": name,
        "SmsStatus": name,
        "From": sender,
        "To": recipient,
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        params["ErrorCode"] = error_code
    return params
