"""What a message's status becomes from the delivery states of its parts, and which part a receipt is for. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# A later "delivered" for one part never hides an earlier error on another (wire-formats notes).
_FAILED = ("failed", "undelivered")


# A message or a part only moves forward: a late "sent" never overwrites "delivered" (HTTP carriers' callbacks
# arrive in any order), and nothing follows a final state.
_RANK = {"sending": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3, "read": 4}
_BEFORE_SENT = ("queued", "sending", "submitting")


def message_status(current: str, part_states: Sequence[str | None]) -> str | None:
    """The new status, or ``None`` when it does not change."""
    if current in _FAILED or not part_states:
        return None
    for bad in _FAILED:
        if bad in part_states:
            return bad
    if current == "read":
        return None
    if all(s == "read" for s in part_states):
        return "read"  # WhatsApp: the customer opened it
    if all(s in ("delivered", "read") for s in part_states):
        return None if current == "delivered" else "delivered"
    if current in _BEFORE_SENT and all(s in ("sent", "delivered") for s in part_states):
        return "sent"
    return None


def advance(current: str | None, new: str) -> str | None:
    """A part's state after a receipt saying ``new``: unchanged when ``new`` would take it backwards."""
    return new if _RANK.get(new, 0) >= _RANK.get(current or "", 0) else current


# --- which part a receipt is for ----------------------------------------------------------------------------
# Carrier ids are not unique over time: an SMSC's counter restarts with it, so one (transport, carrier id) can
# name several parts, months or minutes apart. A receipt is for the newest part with its id that still waits
# for a final state, among parts recorded at most `window` before it and at most `race` after it (a deliver_sm
# may come before the submit_sm_resp's id is recorded: DESIGN, "receipts race submits").

FINAL = frozenset({"delivered", "undelivered", "failed"})


@dataclass(frozen=True)
class Candidate:
    """A message part with the receipt's transport and carrier id."""

    message_id: str
    part: int
    recorded_at: datetime
    state: str | None


@dataclass(frozen=True)
class Apply:
    part: Candidate


@dataclass(frozen=True)
class Wait:
    """Nothing to apply it to yet: its part may still be on its way (the race)."""


@dataclass(frozen=True)
class Discard:
    reason: str


def choose_part(
    received_at: datetime,
    candidates: Sequence[Candidate],
    now: datetime,
    *,
    window: timedelta,
    race: timedelta,
    state: str | None = None,
) -> Apply | Wait | Discard:
    """What to do with a receipt received at ``received_at`` (saying ``state``), given the parts that carry its
    id. A "read" (WhatsApp) still goes to a part that was delivered: for it, delivered is not the end."""
    plausible = [c for c in candidates if received_at - window <= c.recorded_at <= received_at + race]
    waiting = [c for c in plausible if c.state not in FINAL or (state == "read" and c.state == "delivered")]
    if waiting:
        return Apply(max(waiting, key=lambda c: (c.recorded_at, c.message_id, c.part)))
    # Only parts that already have their final state (an old message whose id the SMSC reuses, or a receipt
    # sent twice): the receipt may be for a newer part not recorded yet, so it is not spent on an old one.
    if now - received_at < race:
        return Wait()
    if plausible:
        return Discard("every part with this id already had its final receipt")
    return Discard("no part with this id was recorded in time")
