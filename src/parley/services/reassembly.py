"""Concatenated MO parts: held until their message is whole, stored incomplete when it cannot be.

Called inside `Inbox`'s storing transaction. A part that can never complete (part 5 of 2) is stored at
once as a message of its own; parts whose message went stale (older than the expiry, 24 h by default) are
stored as one message marked incomplete — by the periodic `take_expired`, or as soon as a new message
reuses their reference, which therefore never gets a stale part (`parley.core.concat`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from parley.channels.base import Inbound
from parley.core.concat import Part, complete, impossible, is_copy, join, same_message
from parley.store import inbound_parts


@dataclass(frozen=True)
class Whole:
    """Parts stored as one message: ``note`` says why the text is not the whole message (None: it is)."""

    transport: str
    sender: str
    recipient: str
    text: str
    received_at: datetime
    note: str | None


@dataclass(frozen=True)
class Joined:
    """What one arriving part gives: its message's text once whole (else None), and older parts given up on."""

    text: str | None
    note: str | None = None
    given_up: list[Whole] = field(default_factory=list)


async def add_part(
    conn: AsyncConnection, transport: str, inbound: Inbound, *, now: datetime, expiry: timedelta
) -> Joined:
    ref, total, seq = (int(inbound.extra[k]) for k in ("concat_ref", "concat_total", "concat_seq"))
    sender = inbound.sender[:32]
    part = Part(seq, total, inbound.to[:32], inbound.text, now)
    if (why := impossible(total, seq)) is not None:
        return Joined(inbound.text, why)
    key = (transport, sender, ref)
    await inbound_parts.lock(conn, key)
    held = await inbound_parts.held(conn, key)
    given_up: list[Whole] = []
    if held and not same_message(held, part, now=now, expiry=expiry):
        if taken := await inbound_parts.take(conn, key):  # none: the expiry took them meanwhile
            given_up.append(_whole(key, taken))
        held = []
    if is_copy(held, part):
        return Joined(None, given_up=given_up)
    await inbound_parts.add(conn, key, part)
    if not complete([*held, part]):
        return Joined(None, given_up=given_up)
    text, note = join(await inbound_parts.take(conn, key) or [*held, part])
    return Joined(text, note, given_up)


async def take_expired(conn: AsyncConnection, *, now: datetime, expiry: timedelta) -> list[Whole]:
    """Remove the parts of messages that stayed incomplete longer than ``expiry``: one `Whole` each."""
    return [_whole(key, parts) for key, parts in (await inbound_parts.take_stale(conn, now - expiry)).items()]


def _whole(key: inbound_parts.Key, parts: Sequence[Part]) -> Whole:
    transport, sender, _ = key
    text, note = join(parts)
    first = min(parts, key=lambda p: p.received_at)
    return Whole(transport, sender, first.recipient, text, first.received_at, note)
