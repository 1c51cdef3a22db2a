"""Joining the parts of a concatenated MO message (3GPP TS 23.040 §9.2.3.24.1, SMPP 3.4 §5.3.2.22-24). Pure.

A part names its message by a reference that is only 8 bits (16 with SAR TLVs) per sender, so references
come round again, and parts get lost: a held part may belong to a message that will never complete. The
rules here decide when held parts are one message with an arriving part, and what is stored when a
message can only be stored incomplete. Nothing the customer wrote is thrown away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

GAP = "[…]"  # stands for a part that never came, inside an incomplete message's text


@dataclass(frozen=True)
class Part:
    """One part, arrived or held: ``seq`` of ``total`` under a reference."""

    seq: int
    total: int
    recipient: str
    text: str
    received_at: datetime


def impossible(total: int, seq: int) -> str | None:
    """Why a concatenation header can never be completed (part 5 of 2, of 0 parts), or None."""
    if total < 1 or seq < 1 or seq > total:
        return f"impossible concatenation header: part {seq} of {total}"
    return None


def same_message(held: Sequence[Part], part: Part, *, now: datetime, expiry: timedelta) -> bool:
    """Whether ``part`` joins the held parts under its reference, or the reference came round for a new message.

    Held parts are another message when they went stale (older than ``expiry``), when they count or address
    differently, or when they already hold this part number with another text.
    """
    return all(
        h.received_at >= now - expiry
        and h.total == part.total
        and h.recipient == part.recipient
        and (h.seq != part.seq or h.text == part.text)
        for h in held
    )


def is_copy(held: Sequence[Part], part: Part) -> bool:
    """The same part again (an SMSC that redelivers): already held, nothing to add."""
    return any(h.seq == part.seq and h.text == part.text for h in held)


def complete(held: Sequence[Part]) -> bool:
    return bool(held) and len({h.seq for h in held}) == held[0].total


def join(held: Sequence[Part]) -> tuple[str, str | None]:
    """The text of the parts in order, and None when whole, else a note saying which parts are missing.

    A missing part shows as `GAP` in the text, so a reader sees that something is missing, and where.
    """
    by_seq = {h.seq: h.text for h in held}
    total = max(h.total for h in held)
    missing = [n for n in range(1, total + 1) if n not in by_seq]
    if not missing:
        return "".join(by_seq[n] for n in range(1, total + 1)), None
    pieces = [by_seq.get(n, GAP) for n in range(1, total + 1)]
    text = "".join(p for i, p in enumerate(pieces) if p != GAP or i == 0 or pieces[i - 1] != GAP)
    arrived = ", ".join(str(n) for n in sorted(by_seq))
    return text, f"incomplete: part{'s' if len(by_seq) > 1 else ''} {arrived} of {total} arrived"
