"""What a message's status becomes from the delivery states of its parts. Pure."""

from __future__ import annotations

from collections.abc import Sequence

# A later "delivered" for one part never hides an earlier error on another (wire-formats notes).
_FAILED = ("failed", "undelivered")


def message_status(current: str, part_states: Sequence[str | None]) -> str | None:
    """The new status, or ``None`` when it does not change."""
    if current in _FAILED or not part_states:
        return None
    for bad in _FAILED:
        if bad in part_states:
            return bad
    if all(s == "delivered" for s in part_states):
        return None if current == "delivered" else "delivered"
    return None
