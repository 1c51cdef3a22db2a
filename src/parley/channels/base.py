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

# "sending" and "sent" come from HTTP carriers' status callbacks (the message is on its way, or reached the
# carrier's upstream); SMPP receipts carry only final states, "accepted" or "unknown".
# "read" comes from WhatsApp: the recipient opened it (never downgraded to "delivered" by a late status).
ReceiptState = Literal["sending", "sent", "delivered", "read", "undelivered", "failed", "accepted", "unknown"]
MessageChannel = Literal["sms", "mms", "whatsapp", "web"]


@dataclass(frozen=True)
class MediaRef:
    """One attachment to hand over. ``url`` is where the provider fetches it: public, signed, expiring."""

    url: str
    content_type: str
    size: int
    filename: str


@dataclass(frozen=True)
class Outgoing:
    """One message to hand over. ``sender`` is E.164 (with +) or an alphanumeric sender ID."""

    id: str
    sender: str
    to: str
    text: str
    encoding: Encoding
    # Attachments: only for a channel whose ``carries_mms`` is true (the dispatcher never hands media to others).
    media: tuple[MediaRef, ...] = ()
    # Called once, right before the first byte of the message goes to the peer (after any wait for a
    # window slot or a rate budget). Campaigns journal it so that a worker killed mid-send never causes
    # a second copy: a message journalled as submitted is not sent again.
    before_submit: Callable[[], Awaitable[None]] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Sent:
    """The peer took the message. ``carrier_ids`` has one id per segment the peer acknowledged.

    ``status`` is what the message becomes: "sent" when the peer is the network (an SMSC's submit_sm_resp),
    "sending" when it only queued it and its status callbacks will say "sent" later (Twilio, Telnyx).
    """

    carrier_ids: tuple[str, ...] = ()
    status: Literal["sending", "sent"] = "sent"


@dataclass(frozen=True)
class Receipt:
    """A delivery report from the peer about a message id it gave us earlier."""

    carrier_id: str
    state: ReceiptState
    stat: str
    err: str = ""
    done_at: datetime | None = None
    detail: str = ""  # what the provider said beyond its code (WhatsApp: the error's title and details)


@dataclass(frozen=True)
class Inbound:
    """A mobile-originated message (MO): ``sender`` and ``to`` in E.164 where they are numbers."""

    sender: str
    to: str
    text: str
    carrier_id: str | None = None
    received_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # Attachments as the provider names them (a URL, or a provider media id): fetched afterwards, and more
    # than once if need be, with the receiving channel's `MediaSource.fetch_media`, never lost with the text.
    media: tuple[str, ...] = ()
    channel: MessageChannel = "sms"


class MediaUnavailable(Exception):
    """An attachment could not be fetched from the provider; ``retryable`` says whether to try again later."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


MediaWriter = Callable[[bytes], Awaitable[None]]


class MediaSource(Protocol):
    """A channel that receives attachments by reference (Twilio ``MediaUrl{N}``, Telnyx ``media[].url``,
    a WhatsApp media id) and can fetch them with its own credentials."""

    async def fetch_media(self, ref: str, write: MediaWriter, *, max_bytes: int) -> str:
        """Stream the attachment's bytes to ``write`` (chunks, in order) and return its declared content type.

        Raises `MediaUnavailable` (retryable for timeouts, 5xx, 429; not for 404/403 or a file over
        ``max_bytes``, which is checked while reading, never after).
        """
        ...


OnReceipt = Callable[[Receipt], Awaitable[None]]
OnInbound = Callable[[Inbound], Awaitable[None]]


class Channel(Protocol):
    kind: ClassVar[str]
    name: str
    # Whether `send` takes `Outgoing.media` (an MMS). Channels without the attribute carry SMS only.
    # carries_mms: ClassVar[bool]

    async def start(self) -> None:
        """Open clients, bind; must not raise when the peer is down (reconnect in the background)."""

    async def send(self, msg: Outgoing) -> Sent:
        """Hand one message over; raises `parley.core.delivery.DeliveryError` (retryable or not)."""

    async def stop(self) -> None:
        """Close cleanly: unbind, close sockets, cancel background tasks."""
