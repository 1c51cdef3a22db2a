"""What a send on WhatsApp becomes (issue 12 §3–§5, §7): its message rows, checked before anything reaches Meta.

- The company number must be on WhatsApp (`Config.whatsapp`): it sends through that number's transport.
- A template is checked against the last sync (`TemplateResolver`, 422 naming ``template``); its row's body is
  the rendered text the customer sees, its ``template`` what the dispatcher hands to Meta.
- Free-form messages (text, files) go only inside the customer's 24-hour window. Outside it the send is refused
  with `WindowClosedError` (the API answers 409 with ``window_closed_at``) — or, when the send or the number falls
  back to SMS, the text goes as SMS at once, its route saying why.
- A text is one message (at most 4,096 characters); each file is a message of its own (WhatsApp carries one file
  per message), within the size WhatsApp takes for its kind; files it cannot take are left out, named.
- A customer with no phone number (a business-scoped user id, only in a conversation) can be reached on WhatsApp
  only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from parley.core.mms import Attachment, LeftOut
from parley.core.numbers import InvalidNumber, parse_e164
from parley.core.outbound import OutboundError, Refusal, check_text
from parley.core.whatsapp_rules import MAX_TEXT, TemplateSpec, media_problem, window_expires_at, window_open
from parley.services.directory import Config, WhatsAppNumber
from parley.services.errors import ServiceError
from parley.store import whatsapp_windows
from parley.store.db import Database

RowFactory = Callable[[str, str, str], dict[str, Any]]  # (to, sender, text) -> an outbound SMS row


class WindowClosedError(OutboundError):
    """A free-form WhatsApp message outside the customer-service window: only a template may go (HTTP 409)."""

    def __init__(self, closed_at: datetime | None) -> None:
        when = (
            f"closed at {closed_at.astimezone(UTC).isoformat().replace('+00:00', 'Z')}"
            if closed_at is not None
            else "is not open: the customer has not written on WhatsApp"
        )
        super().__init__(
            "text",
            f"WhatsApp's 24-hour customer-service window {when}; only an approved template can be sent now",
        )
        self.closed_at = closed_at


class Resolved(Protocol):
    @property
    def text(self) -> str: ...


class TemplateResolver(Protocol):
    """The templates as last synced from Meta (`services.whatsapp_templates.WhatsAppTemplates`)."""

    async def resolve(self, company_number: str, spec: TemplateSpec) -> Resolved:
        """The template's rendered text; raises `ServiceError` (422, field ``template``) when it is unknown at
        the last sync, not approved, or filled wrongly."""
        ...


@dataclass
class WhatsAppRows:
    rows: list[dict[str, Any]] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    attachments: dict[str, list[str]] = field(default_factory=dict)  # message id -> its one file
    left_out: list[LeftOut] = field(default_factory=list)


@dataclass(frozen=True)
class WhatsAppRequest:
    sender: str | None  # the company number (a conversation's, or the user's office number)
    destinations: Sequence[str]
    text: str
    template: TemplateSpec | None
    fallback: str | None
    files: Sequence[Attachment]
    in_conversation: bool  # a conversation may address a customer by user id (no phone number)
    send_at: datetime | None


class WhatsAppSends:
    def __init__(self, db: Database, templates: TemplateResolver | None) -> None:
        self._db = db
        self._templates = templates

    async def plan(self, req: WhatsAppRequest, config: Config, now: datetime, row: RowFactory) -> WhatsAppRows:
        """The rows of one send; raises `OutboundError` (or `WindowClosedError`) when nothing can go."""
        number = config.whatsapp.get(req.sender or "")
        if number is None:
            raise OutboundError(
                "channel",
                f"{req.sender or 'The sender'} is not on WhatsApp here: it needs whatsapp = true and a WhatsApp "
                "transport",
            )
        sender = req.sender or ""
        body = await self._body(req, sender)
        out = WhatsAppRows()
        customers = self._customers(req, config, out.refused)
        async with self._db.read() as conn:
            windows = await whatsapp_windows.last_inbound(conn, sender, customers)
        fallback = req.fallback or number.fallback
        closed: list[datetime | None] = []
        files = self._files(req.files, out.left_out)
        due = req.send_at or now
        for to in customers:
            if req.template is None and not window_open(windows.get(to), due):
                closed_at = window_expires_at(windows.get(to))
                if fallback == "sms" and to.startswith("+") and req.text:
                    out.rows.append(_by_sms(row(to, sender, req.text), closed_at, now))
                    continue
                closed.append(closed_at)
                out.refused.append(Refusal(to, WindowClosedError(closed_at).reason))
                continue
            made = _WhatsAppRow(row, to, sender, number, fallback, now)
            self._rows(out, req, body, files, made)
        if not out.rows:
            if closed and len(closed) == len(out.refused):
                raise WindowClosedError(max((c for c in closed if c is not None), default=None))
            if out.refused:
                first = out.refused[0]
                raise OutboundError("to", f"{first.given}: {first.reason}")
            reasons = "; ".join(f"{x.attachment.filename}: {x.reason}" for x in out.left_out)
            raise OutboundError("media", f"No file can be sent on WhatsApp: {reasons}")
        return out

    async def _body(self, req: WhatsAppRequest, sender: str) -> str:
        if req.template is None:
            if req.text or not req.files:
                check_text(req.text, field="text", limit=MAX_TEXT)
            return req.text
        if req.text or req.files:
            raise OutboundError("template", "A template is sent alone: leave text and media out")
        if self._templates is None:
            raise OutboundError("template", "WhatsApp templates are not available on this server")
        try:
            return (await self._templates.resolve(sender, req.template)).text
        except ServiceError as exc:
            raise OutboundError(exc.field or "template", exc.reason) from None

    @staticmethod
    def _customers(req: WhatsAppRequest, config: Config, refused: list[Refusal]) -> list[str]:
        found: list[str] = []
        for given in (d.strip() for d in req.destinations):
            if not given:
                continue
            if req.in_conversation and not given.startswith("+"):
                found.append(given)  # a business-scoped user id: the conversation's customer
                continue
            try:
                to = parse_e164(given, config.country)
            except InvalidNumber as exc:
                refused.append(Refusal(given, exc.reason))
                continue
            if to not in found:
                found.append(to)
        if not found and not refused:
            raise OutboundError("to", "Number should not be empty")
        return found

    @staticmethod
    def _files(files: Sequence[Attachment], left_out: list[LeftOut]) -> list[Attachment]:
        kept = []
        for a in files:
            problem = media_problem(a.content_type, a.size)
            if problem is None:
                kept.append(a)
            else:
                left_out.append(LeftOut(a, problem))
        return kept

    @staticmethod
    def _rows(out: WhatsAppRows, req: WhatsAppRequest, body: str, files: list[Attachment], make: _WhatsAppRow) -> None:
        if req.template is not None:
            one = make(body) | {"template": req.template.to_doc()}
            out.rows.append(one)
            if req.template.header_media is not None:  # the header's file, fetched by Meta from its signed URL
                out.attachments[one["id"]] = [req.template.header_media]
            return
        if body:
            out.rows.append(make(body))
        for a in files:
            one = make("")
            out.rows.append(one)
            out.attachments[one["id"]] = [a.id]


@dataclass(frozen=True)
class _WhatsAppRow:
    """Makes the WhatsApp rows of one customer."""

    row: RowFactory
    to: str
    sender: str
    number: WhatsAppNumber
    fallback: str | None
    now: datetime

    def __call__(self, text: str) -> dict[str, Any]:
        made = self.row(self.to, self.sender, text) | {"channel": "whatsapp", "segments": 1}
        if self.fallback == "sms" and self.to.startswith("+"):
            after = self.number.fallback_after
            made |= {"fallback": "sms", "fallback_at": (made.get("send_at") or self.now) + after if after else None}
        return made


def _by_sms(row: dict[str, Any], closed_at: datetime | None, now: datetime) -> dict[str, Any]:
    """An SMS row for a WhatsApp message that could not go: its route says so."""
    why = WindowClosedError(closed_at).reason
    return row | {"route": [route_step("whatsapp", now, "not sent", detail=why), route_step("sms", now, "queued")]}


def route_step(
    channel: str, at: datetime, outcome: str, *, code: str | None = None, detail: str | None = None
) -> dict[str, Any]:
    """One step of a message's route, as stored in ``messages.route``."""
    step: dict[str, Any] = {"channel": channel, "at": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                            "outcome": outcome}  # fmt: skip
    if code:
        step["code"] = code
    if detail:
        step["detail"] = detail
    return step
