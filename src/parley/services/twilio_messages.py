"""The Twilio-compatible Messages API's use cases (issue 13 §3): send, list, fetch, cancel, delete.

A key acts as its user: a send goes through `Outbox.send` like the native API's (license, quota, charges; source
``twilio``), with ``From`` checked against what the user may send from — his office number, his services' SMS
numbers, or his alphanumeric sender ID outside +1 — and passed on as the send's sender. ``MessagingServiceSid``
chooses one of his services' numbers. Every refusal is a `TwilioError` carrying Twilio's code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from parley.core import twilio_format as fmt
from parley.core.messaging_service_sids import is_messaging_service_sid, messaging_service_sid
from parley.core.numbers import InvalidNumber, is_nanp, parse_e164
from parley.core.outbound import OutboundError
from parley.core.sender_id import make_sender_id
from parley.core.twilio_ids import message_id, message_sid
from parley.services.api_keys import ApiKeys, KeyCaller
from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.services.send import Outbox, SendSms
from parley.store import twilio_messages as store
from parley.store.db import Database

MAX_BODY = 1600  # Twilio's limit (error 21617); Parley's own, lower, applies after it
MAX_MEDIA = 10
_IN_FLIGHT = frozenset({"queued", "sending", "submitting"})  # Twilio error 20009: not deletable yet


class TwilioError(Exception):
    """A refusal in Twilio's terms: its error code, a message, the HTTP status (and headers such as Retry-After)."""

    def __init__(self, code: int, message: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.headers = headers


NOT_FOUND = 20404


def not_found(what: str = "The requested resource was not found") -> TwilioError:
    return TwilioError(NOT_FOUND, what, 404)


@dataclass(frozen=True)
class CreateMessage:
    """The form fields of `POST …/Messages.json`, as given."""

    to: str = ""
    from_: str = ""
    body: str = ""
    media_urls: Sequence[str] = ()
    status_callback: str = ""
    messaging_service_sid: str = ""
    schedule_type: str = ""
    send_at: str = ""


@dataclass(frozen=True)
class ListMessages:
    to: str = ""
    from_: str = ""
    date_sent: str | None = None
    date_sent_before: str | None = None
    date_sent_after: str | None = None
    page_size: str | None = None
    page: str | None = None
    page_token: str | None = None


class CallbackUrls(Protocol):
    async def check_url(self, url: object, field: str) -> str:
        """The URL when webhooks may go there; raises `ServiceError` (422) otherwise."""
        ...


class TwilioMessages:
    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        cache: DirectoryCache,
        keys: ApiKeys,
        clock: Callable[[], datetime],
        urls: CallbackUrls | None = None,
    ) -> None:
        self._db = db
        self._outbox = outbox
        self._cache = cache
        self._keys = keys
        self._clock = clock
        self._urls = urls  # the webhooks' address rules (server-side request forgery), `[webhooks] allow_private`

    async def account_sid(self) -> str:
        return await self._keys.account_sid()

    async def services(self, user: User) -> list[dict[str, object]]:
        """The services the user may send for (an administrator: every one), each with its Messaging Service SID."""
        account = await self.account_sid()
        async with self._db.read() as conn:
            found = await store.service_details(conn, None if user.is_admin else user.id)
        return [
            {"name": name, "sms_number": number, "messaging_service_sid": messaging_service_sid(account, sid)}
            for sid, name, number in found
        ]

    # --- send ---------------------------------------------------------------------------------------------------

    async def create(self, caller: KeyCaller, req: CreateMessage) -> dict[str, object]:
        user = caller.user
        config = await self._cache.config()
        to = _recipient(req.to, config.country)
        if not req.body.strip() and not req.media_urls:
            raise TwilioError(21602, "Message body is required.")
        if len(req.body) > MAX_BODY:
            raise TwilioError(21617, f"The concatenated message body exceeds the {MAX_BODY} character limit.")
        media = _media_ids(req.media_urls)
        callback = _status_callback(req.status_callback)
        if callback is not None and self._urls is not None:
            try:
                await self._urls.check_url(callback, "StatusCallback")
            except ServiceError as exc:
                raise TwilioError(21609, f"Invalid StatusCallback URL: {exc.reason}") from None
        send_at = self._send_at(req)
        account = await self.account_sid()
        sender, service = await self._sender(user, req, to, account, config.country, scheduled=send_at is not None)
        if sender.startswith("+"):
            async with self._db.read() as conn:
                if await store.opted_out(conn, sender, to):
                    raise TwilioError(21610, "Attempt to send to unsubscribed recipient")
        try:
            result = await self._outbox.send(
                SendSms(
                    user=user, destinations=[to], text=req.body, send_at=send_at, source="twilio",
                    strict_numbers=True, sender_number=sender, media=media, status_callback=callback,
                    callback_format="twilio" if callback else None, api_key_id=caller.key_id,
                )
            )  # fmt: skip
        except OutboundError as exc:
            raise _refusal(exc) from None
        if not result.messages:  # pragma: no cover - Outbox raises when nothing is queued
            raise TwilioError(21211, f"The 'To' number {req.to} is not a valid phone number.")
        # Text and files together go as an SMS and an MMS (seed 001): the answer is the MMS, which carries the files.
        mms = [r for r in result.messages if r.get("channel") == "mms"]
        row = mms[0] if mms else result.messages[0]
        facts = _facts(row, sent_at=None, media=len(media) if mms else 0, service_sid=service)
        return fmt.message_resource(facts, account)

    def _send_at(self, req: CreateMessage) -> datetime | None:
        kind = req.schedule_type.strip()
        if not kind:
            if req.send_at.strip():
                raise TwilioError(35111, "SendAt is given without ScheduleType=fixed")
            return None
        if kind != "fixed":
            raise TwilioError(35111, f"ScheduleType must be 'fixed', not {kind!r}")
        if not req.send_at.strip():
            raise TwilioError(35111, "SendAt timestamp is missing")
        at = fmt.parse_instant(req.send_at)
        if at is None:
            raise TwilioError(35114, "SendAt must be an ISO 8601 time such as 2026-12-01T09:00:00Z")
        problem = fmt.schedule_problem(at, self._clock())
        if problem is not None:
            raise TwilioError(35114, problem)
        return at

    async def _sender(
        self, user: User, req: CreateMessage, to: str, account: str, country: str, *, scheduled: bool
    ) -> tuple[str, str | None]:
        """The message's sender and the Messaging Service SID it belongs to (if any)."""
        async with self._db.read() as conn:
            mine = await store.services_of(conn, None if user.is_admin else user.id)
        by_sid = {messaging_service_sid(account, sid): number for sid, number in mine}
        chosen: str | None = None
        if req.messaging_service_sid:
            sid = req.messaging_service_sid.strip()
            if not is_messaging_service_sid(sid) or sid not in by_sid:
                raise TwilioError(21701, f"The Messaging Service Sid {sid} is invalid.")
            chosen = sid
        given = req.from_.strip()
        if not given:
            if chosen is None:
                if scheduled:
                    raise TwilioError(35118, "MessagingServiceSid (or From) is required to schedule a message")
                raise TwilioError(21603, "A 'From' phone number is required.")
            number = by_sid[chosen]
            if not number:
                raise TwilioError(21606, "The Messaging Service has no SMS number to send from.")
            return number, chosen
        numbers = {n for _, n in mine if n} | ({user.office_number} if user.office_number else set())
        if any(c.isalpha() for c in given):  # an alphanumeric sender ID
            if given != make_sender_id(user.name):
                raise TwilioError(21606, f"The From {given!r} is not a sender ID this user may send from.")
            if is_nanp(to):
                raise TwilioError(21606, "An alphanumeric sender ID cannot send to +1 numbers.")
            return given, chosen
        try:
            number = parse_e164(given, country)
        except InvalidNumber:
            raise TwilioError(21606, f"The From phone number {given} is not a valid phone number.") from None
        if number not in numbers:
            raise TwilioError(21606, f"The From phone number {number} is not one this user may send from.")
        service = chosen or next((messaging_service_sid(account, sid) for sid, n in mine if n == number), None)
        return number, service

    # --- read ---------------------------------------------------------------------------------------------------

    async def list_(self, user: User, req: ListMessages) -> dict[str, object]:
        config = await self._cache.config()
        try:
            span = fmt.date_sent_range(req.date_sent, req.date_sent_before, req.date_sent_after)
            size = fmt.page_size(req.page_size)
            number = fmt.page_number(req.page)
            token = fmt.page_token(req.page_token)
        except ValueError as exc:
            raise TwilioError(20001, str(exc)) from None
        query = store.Query(
            user_id=None if user.is_admin else user.id, to=_filter_number(req.to, config.country),
            sender=_filter_number(req.from_, config.country), since=span.since, until=span.until,
            older_than=token.older_than, newer_than=token.newer_than, limit=size,
        )  # fmt: skip
        account = await self.account_sid()
        async with self._db.read() as conn:
            rows = await store.page(conn, query)
            first, last = (rows[0].id, rows[-1].id) if rows else (None, None)
            older = last is not None and await store.exists_beyond(conn, query, older_than=last, newer_than=None)
            newer = first is not None and await store.exists_beyond(conn, query, older_than=None, newer_than=first)
            services = await store.service_numbers(conn, sorted({_company_number(r) for r in rows}))
        filters = [("To", req.to), ("From", req.from_), ("DateSent", req.date_sent or ""),
                   ("DateSent<", req.date_sent_before or ""), ("DateSent>", req.date_sent_after or "")]  # fmt: skip
        links = fmt.page_links(
            fmt.PageFacts(account, tuple((k, v) for k, v in filters if v), size, number, req.page_token or None,
                          first, last, older, newer),
            len(rows),
        )  # fmt: skip
        messages = [self._resource(r, account, services) for r in rows]
        return {"messages": messages, **links}

    async def fetch(self, user: User, sid: str) -> dict[str, object]:
        row = await self._visible(user, sid)
        account = await self.account_sid()
        async with self._db.read() as conn:
            services = await store.service_numbers(conn, [_company_number(row)])
        return self._resource(row, account, services)

    def _resource(self, row: Any, account: str, services: dict[str, int]) -> dict[str, object]:
        service = services.get(_company_number(row))
        service_sid = messaging_service_sid(account, service) if service is not None else None
        facts = _facts(dict(row._mapping), sent_at=_sent_at(row), media=int(row.media_count), service_sid=service_sid)
        return fmt.message_resource(facts, account)

    async def _visible(self, user: User, sid: str) -> Any:
        mid = message_id(sid)
        if mid is None:
            raise not_found(f"The requested resource /Messages/{sid}.json was not found")
        async with self._db.read() as conn:
            row = await store.find(conn, mid)
        if row is None or (not user.is_admin and row.user_id != user.id):
            raise not_found(f"The requested resource /Messages/{sid}.json was not found")
        return row

    # --- change -------------------------------------------------------------------------------------------------

    async def update(self, user: User, sid: str, *, status: str | None, body: str | None) -> dict[str, object]:
        """`POST …/Messages/{Sid}.json`: ``Status=canceled`` withdraws a scheduled message (Twilio 30409 when it
        is no longer scheduled). Redacting the body (``Body=""``) is not offered."""
        row = await self._visible(user, sid)
        if body is not None:
            raise TwilioError(20001, "Redacting a message's body is not supported by this server")
        if status != "canceled":
            raise TwilioError(20001, "Status may only be 'canceled'")
        if row.status != "cancelled":
            async with self._db.write() as conn:
                withdrawn = await store.withdraw(conn, row.id, now=self._clock())
            if not withdrawn:
                raise TwilioError(30409, "This message cannot be canceled")
        return await self.fetch(user, sid)

    async def delete(self, user: User, sid: str) -> None:
        row = await self._visible(user, sid)
        if row.status in _IN_FLIGHT or row.status == "scheduled":
            raise TwilioError(20009, "Cannot delete this message before it is complete (cancel a scheduled one)", 409)
        async with self._db.write() as conn:
            await store.delete(conn, row.id)


def _recipient(given: str, country: str) -> str:
    text = given.strip()
    if not text:
        raise TwilioError(21604, "A 'To' phone number is required.")
    try:
        return parse_e164(text, country)
    except InvalidNumber:
        raise TwilioError(21211, f"The 'To' number {given} is not a valid phone number.") from None


def _filter_number(given: str, country: str) -> str | None:
    text = given.strip()
    if not text:
        return None
    try:
        return parse_e164(text, country)
    except InvalidNumber:
        return text  # an alphanumeric sender, matched as it is


def _media_ids(urls: Sequence[str]) -> list[str]:
    """Files uploaded to this server named by their URL; fetching other hosts' files is not offered (21620)."""
    if len(urls) > MAX_MEDIA:
        raise TwilioError(21623, f"Too many media URLs: at most {MAX_MEDIA}")
    ids = []
    for url in urls:
        media = fmt.media_id_of(url)
        if media is None:
            raise TwilioError(21620, f"Invalid media URL {url!r}: upload the file to /api/v2/media and give its URL")
        ids.append(media)
    return ids


def _status_callback(url: str) -> str | None:
    text = url.strip()
    if not text:
        return None
    problem = fmt.callback_problem(text)
    if problem is not None:
        raise TwilioError(21609, f"Invalid StatusCallback URL: {problem}")
    return text


def _refusal(exc: OutboundError) -> TwilioError:
    if exc.forbidden:
        return TwilioError(20403, exc.reason, 403)
    if exc.field == "number":
        return TwilioError(21211, exc.reason)
    if exc.field == "message":
        code = 21617 if "longer" in exc.reason else 21602
        return TwilioError(code, exc.reason)
    if exc.field == "media":
        return TwilioError(21620, exc.reason)
    return TwilioError(21606 if exc.field == "sender" else 20001, f"{exc.field}: {exc.reason}")


def _company_number(row: Any) -> str:
    """Our side of the message: its sender when outbound, its recipient when inbound."""
    return str(row.sender if row.direction == "out" else row.recipient)


def _sent_at(row: Any) -> datetime | None:
    return row.created_at if row.direction == "in" else row.sent_at  # type: ignore[no-any-return]


def _facts(row: dict[str, Any], *, sent_at: datetime | None, media: int, service_sid: str | None) -> fmt.MessageFacts:
    return fmt.MessageFacts(
        sid=message_sid(row["id"]), direction=row["direction"], sender=row["sender"], recipient=row["recipient"],
        body=row["body"], status=row["status"], segments=row["segments"], media=media, charge=row.get("charge"),
        currency=row.get("currency"), error_code=row.get("error_code"), error=row.get("error"),
        created_at=row["created_at"], updated_at=row["updated_at"], sent_at=sent_at, messaging_service_sid=service_sid,
    )  # fmt: skip
