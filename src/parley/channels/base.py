"""The one small interface every way of reaching a phone network implements.

A channel knows its wire protocol and nothing about conversations, campaigns or the store.
What the peer tells us on its own (delivery receipts, inbound messages) is handed to the
callbacks the composition root passes in; storing it is the caller's job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Literal, Protocol

from parley.core.text import Encoding

ReceiptState = Literal["delivered", "undelivered", "failed", "accepted", "unknown"]


@dataclass(frozen=True)
class Outgoing:
    """One message to hand over. ``sender`` is E.164 (with +) or an alphanumeric sender ID."""

    id: str
    sender: str
    to: str
    text: str
    encoding: Encoding
    # Called once, right before the first byte of the message goes to the peer (after any wait for a
    # window slot or a rate budget). Campaigns journal it so that a worker killed mid-send never causes
    # a second copy: a message journalled as submitted is not sent again.
    before_submit: Callable[[], Awaitable[None]] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Sent:
    """The peer took the message. ``carrier_ids`` has one id per segment the peer acknowledged."""

    carrier_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Receipt:
    """A delivery report from the peer about a message id it gave us earlier."""

    carrier_id: str
    state: ReceiptState
    stat: str
    err: str = ""
    done_at: datetime | None = None


@dataclass(frozen=True)
class Inbound:
    """A mobile-originated message (MO): ``sender`` and ``to`` in E.164 where they are numbers."""

    sender: str
    to: str
    text: str
    carrier_id: str | None = None
    received_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


OnReceipt = Callable[[Receipt], Awaitable[None]]
OnInbound = Callable[[Inbound], Awaitable[None]]


class Channel(Protocol):
    kind: ClassVar[str]
    name: str

    async def start(self) -> None:
        """Open clients, bind; must not raise when the peer is down (reconnect in the background)."""

    async def send(self, msg: Outgoing) -> Sent:
        """Hand one message over; raises `parley.core.delivery.DeliveryError` (retryable or not)."""

    async def stop(self) -> None:
        """Close cleanly: unbind, close sockets, cancel background tasks."""
