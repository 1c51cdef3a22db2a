"""Planning an outbound send: validate the request, choose senders, measure text. Pure.

Senders follow the destination country's sender-ID rules (`parley.core.sender_rules`).

Used by every ingress (Wildix API, native API, CLI, console, email); each maps `OutboundError` to its
own answer shape. The field names in errors are the request's own (``number``, ``message``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from parley.core.characters import problem
from parley.core.licenses import License
from parley.core.numbers import InvalidNumber, is_nanp, parse_e164, region_of
from parley.core.sender_id import make_sender_id
from parley.core.sender_rules import Choice, SenderRules, is_alphanumeric, judge
from parley.core.text import Encoding, split

MAX_MESSAGE_LENGTH = 670


class OutboundError(ValueError):
    """The request cannot be sent at all. ``field`` names the request field at fault."""

    def __init__(self, field: str, reason: str, *, forbidden: bool = False) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason
        self.forbidden = forbidden


@dataclass(frozen=True)
class Sender:
    user_id: int
    extension: str
    name: str
    license: License
    office_number: str | None


@dataclass(frozen=True)
class PlannedMessage:
    to: str
    sender: str
    body: str
    encoding: Encoding
    segments: int


@dataclass(frozen=True)
class Refusal:
    """One destination that could not be queued, as the client gave it, and why."""

    given: str
    reason: str


@dataclass(frozen=True)
class Plan:
    messages: tuple[PlannedMessage, ...]
    refused: tuple[Refusal, ...]
    send_at: datetime | None
    warnings: tuple[str, ...] = ()  # sent, but the user should know (a fallback sender, a filtered name)


def check_text(text: str, *, field: str = "message", limit: int = MAX_MESSAGE_LENGTH) -> str:
    if not text or not text.strip():
        raise OutboundError(field, "Message should not be empty")
    if len(text) > limit:
        raise OutboundError(field, f"Message is longer than {limit} characters")
    unsafe = problem("Message", text)
    if unsafe is not None:
        raise OutboundError(field, unsafe)
    return text


def sender_for(to: str, sender: Sender) -> str:
    """To +1 (NANP) destinations only a company number may send; elsewhere the name as sender ID."""
    if is_nanp(to):
        if not sender.office_number:
            raise ValueError("the user has no office number, which is the sender to +1 destinations")
        return sender.office_number
    return make_sender_id(sender.name)


def choose_sender(to: str, sender: Sender, rules: SenderRules | None = None) -> Choice:
    """`sender_for`, then the destination country's sender-ID rules (issue 14 §3).

    Raises `ValueError` (a `SenderRefused` for a country rule) when the destination cannot be sent.
    """
    chosen = sender_for(to, sender)
    if rules is None or (not rules.countries and not rules.filtered_names):
        return Choice(chosen)
    if not is_alphanumeric(chosen):  # the rules are about sender IDs: skip a second parse for the country
        return Choice(chosen)
    return judge(to, region_of(to), chosen, sender.office_number, rules)


def plan(
    *,
    sender: Sender,
    destinations: Sequence[str],
    text: str,
    send_at: datetime | None,
    now: datetime,
    default_region: str | None = None,
    limit: int = MAX_MESSAGE_LENGTH,
    sender_number: str | None = None,
    with_media: bool = False,
    rules: SenderRules | None = None,
) -> Plan:
    """Validate and plan one send to several destinations.

    Raises `OutboundError` when nothing can be sent (no permission, bad text, no valid destination);
    otherwise destinations that cannot be sent are listed in ``refused``. ``sender_number`` (a
    conversation's company number) replaces the user's own sender for every destination. ``with_media``:
    attachments go too, so the text may be empty. ``rules``: the sender-ID rules by country, applied to
    the user's own sender ID (a company number as sender needs none).
    """
    if not sender.license.may_send_sms:
        raise OutboundError(
            "license",
            f"User {sender.extension} has a {sender.license.label} license; sending SMS needs essential or higher",
            forbidden=True,
        )
    cleaned = [d for d in (d.strip() for d in destinations) if d]
    if not cleaned:
        raise OutboundError("number", "Number should not be empty")
    if text or not with_media:
        check_text(text, limit=limit)
    segments = split(text)
    due = send_at.astimezone(UTC) if send_at is not None and send_at > now else None
    planned: list[PlannedMessage] = []
    refused: list[Refusal] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for given in cleaned:
        try:
            to = parse_e164(given, default_region)
            choice = Choice(sender_number) if sender_number else choose_sender(to, sender, rules)
        except InvalidNumber as exc:
            refused.append(Refusal(given, exc.reason))
            continue
        except ValueError as exc:
            refused.append(Refusal(given, str(exc)))
            continue
        if to in seen:
            continue
        seen.add(to)
        warnings += choice.warnings
        planned.append(PlannedMessage(to, choice.sender, text, segments.encoding, segments.count))
    if not planned:
        first = refused[0]
        raise OutboundError("number", f"Number {first.given}: {first.reason}")
    return Plan(tuple(planned), tuple(refused), due, tuple(warnings))
