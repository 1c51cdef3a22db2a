"""Sending: every ingress (Wildix API, native API, CLI, console, email, campaigns) comes through here.

A send is planned by `parley.core.outbound` (pure), then written — messages, their first status
event, their queue jobs and the user's monthly usage — in one transaction shared with other
concurrent sends (group commit). Only after that commit does the caller get its answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from parley.core import reply_links
from parley.core.mms import Attachment, LeftOut, mms_refusal, pack, text_messages
from parley.core.outbound import OutboundError, Refusal, plan
from parley.core.rating import Price, find_price, rate, rate_mms
from parley.core.routing import normalise_gateway_id
from parley.core.text import split
from parley.core.toll_free import TollFree
from parley.core.toll_free import refusal as toll_free_refusal
from parley.core.whatsapp_rules import TemplateSpec
from parley.metrics import ACCEPTED
from parley.services.batching import GroupCommitter
from parley.services.directory import DirectoryCache, User
from parley.services.link_check import check_links
from parley.services.reply_links import LinkMaker
from parley.services.whatsapp_sends import WhatsAppRequest, WhatsAppSends
from parley.store import messages, queue, usage
from parley.store import reply_links as links_store
from parley.store.db import Database
from parley.store.ids import new_id


@dataclass(frozen=True)
class SendSms:
    user: User
    destinations: Sequence[str]
    text: str
    send_at: datetime | None = None
    gsm: str | None = None
    source: str = "api"
    strict_numbers: bool = False  # Wildix API: E.164 only; others read national numbers in the PBX country
    sender_number: str | None = None  # a conversation's company number, instead of the user's sender
    conversation_id: str | None = None
    media: Sequence[str] = ()  # ids of uploaded files (`POST /api/v2/media`) to send as MMS
    # "whatsapp": send on WhatsApp (`services.whatsapp_sends`); "web": to a customer on a reply link's chat page
    # (stored as shown there, no carrier: `services.reply_links`); else SMS (and MMS)
    channel: str | None = None
    template: TemplateSpec | None = None  # WhatsApp: an approved template instead of text
    fallback: str | None = None  # WhatsApp: "sms" when it cannot go (or is not delivered in the number's time)
    # Where each message's statuses are posted (issue 13 §1), in which format ("parley" or "twilio"), signed with
    # the secret of the API key that made the send.
    status_callback: str | None = None
    callback_format: str | None = None
    api_key_id: str | None = None
    # Run in the send's own transaction with its message rows: an ingress records its ids with them (SMPP server).
    on_write: Callable[[Any, list[dict[str, Any]]], Awaitable[None]] | None = None


@dataclass(frozen=True)
class SendResult:
    messages: list[dict[str, Any]]
    refused: tuple[Refusal, ...]
    left_out: tuple[LeftOut, ...] = ()
    warnings: tuple[str, ...] = ()  # sent, but the sender should know (issue 14: sender-ID rules, links)


@dataclass
class _Batch:
    user: User
    rows: list[dict[str, Any]]
    attachments: dict[str, list[str]] = field(default_factory=dict)  # MMS message id -> media ids in order
    links: list[dict[str, Any]] = field(default_factory=list)  # reply links the rows carry (`services.reply_links`)
    on_write: Callable[[Any, list[dict[str, Any]]], Awaitable[None]] | None = None


class AttachmentSource(Protocol):
    """The uploaded files a send may carry (`parley.services.media.MediaStore` behind it)."""

    async def for_send(self, user: User, ids: Sequence[str]) -> list[tuple[Attachment, str | None]]:
        """Each id's attachment in order, with its text when it is a plain-text file. Raises `OutboundError`
        on field ``media`` for an id that is unknown or not the user's to send."""
        ...

    async def attach(self, conn: Any, message_id: str, media_ids: Sequence[str]) -> None:
        """Link the files to the MMS message, in the caller's transaction."""
        ...


@dataclass(frozen=True)
class _Media:
    """What a send's files become: the MMS's files, SMS bodies from text files, what is left out."""

    files: tuple[Attachment, ...]
    texts: tuple[str, ...]
    left_out: tuple[LeftOut, ...]


def outbound_row(
    *,
    sender: str,
    to: str,
    text: str,
    now: datetime,
    user_id: int | None,
    source: str,
    gsm: str | None = None,
    send_at: datetime | None = None,
    conversation_id: str | None = None,
    bot: str | None = None,
    campaign_id: str | None = None,
) -> dict[str, Any]:
    """A new outbound message row, measured (encoding, segments) and ready to insert with its job."""
    segments = split(text)
    return {
        "id": new_id(),
        "direction": "out",
        "user_id": user_id,
        "sender": sender,
        "recipient": to,
        "body": text,
        "status": "scheduled" if send_at else "queued",
        "segments": segments.count,
        "encoding": segments.encoding.value,
        "gsm": gsm,
        "transport": None,
        "error": None,
        "charge": None,
        "currency": None,
        "source": source,
        "send_at": send_at,
        "conversation_id": conversation_id,
        "bot": bot,
        "campaign_id": campaign_id,
        "channel": "sms",
        "carrier_id": None,
        "status_callback": None,  # every row has every key: a group commit inserts rows of many sends at once
        "callback_format": None,
        "api_key_id": None,
        "created_at": now,
        "updated_at": now,
    }


def _callback(cmd: SendSms) -> dict[str, Any]:
    if cmd.status_callback is None:
        return {}
    return {"status_callback": cmd.status_callback, "callback_format": cmd.callback_format or "parley",
            "api_key_id": cmd.api_key_id}  # fmt: skip


async def charge_rows(
    conn: Any, user: User, rows: list[dict[str, Any]], *, month: str, prices: Sequence[Price]
) -> None:
    """Count the SMS rows' segments in the user's month and rate those past the package; rate each MMS row at
    its destination's MMS price (issue 11 §6: an MMS is billed per message and is no part of the SMS package).
    The charge is set on each row."""
    sms = [r for r in rows if r.get("channel", "sms") == "sms"]
    added = sum(r["segments"] for r in sms)
    used = (await usage.add(conn, user.id, month, added) - added) if sms else 0
    for row in rows:
        price = find_price(row["recipient"], prices)
        if row.get("channel", "sms") in ("whatsapp", "web"):
            row["charge"], row["currency"] = None, None  # Meta bills WhatsApp conversations itself; web is free
            continue
        if row.get("channel", "sms") == "mms":
            charge = rate_mms(1, price)
        else:
            charge = rate(row["segments"], used, user.sms_package, price)
            used += row["segments"]
        # Set either way: a group commit that failed and is retried in parts charges the same rows again.
        row["charge"], row["currency"] = (str(charge.amount), charge.currency) if charge.billable else (None, None)


async def enqueue_rows(conn: Any, rows: list[dict[str, Any]], now: datetime) -> None:
    """Write outbound rows with their jobs inside the caller's transaction (no quota: bots, system). A ``web``
    row is on the chat page once stored: it has no job."""
    await messages.add_all(conn, rows)
    await queue.enqueue_many(conn, [(r["id"], r["send_at"] or now) for r in rows if r.get("channel") != "web"])


def _with_link(
    links: LinkMaker, row: dict[str, Any], text: str, company: str, now: datetime, days: int
) -> dict[str, Any]:
    """Fill the row's ``{reply_link}`` with a new link (returned) and measure the text the customer gets."""
    link = links.fill(row, text, company, now, days)
    segments = split(row["body"])
    row.update(segments=segments.count, encoding=segments.encoding.value)
    return link


class Outbox:
    def __init__(
        self,
        db: Database,
        cache: DirectoryCache,
        clock: Callable[[], datetime],
        *,
        on_enqueued: Callable[[], None] = lambda: None,
        attachments: AttachmentSource | None = None,
        whatsapp: WhatsAppSends | None = None,
        links: LinkMaker | None = None,
        own_links: str = "",
    ) -> None:
        self._db = db
        self._links = links  # fills {reply_link}; None: the placeholder stays as typed
        self._own_links = own_links  # PARLEY_PUBLIC_URL/r/: Parley's reply links, never judged as links
        self._cache = cache
        self._clock = clock
        self._on_enqueued = on_enqueued
        self._attachments = attachments
        self._whatsapp = whatsapp
        self._committer: GroupCommitter[_Batch, None] = GroupCommitter(self._write)

    @property
    def own_links(self) -> str:
        """The prefix of Parley's own reply links (``PARLEY_PUBLIC_URL/r/``), which no transport judges."""
        return self._own_links

    async def send(self, cmd: SendSms) -> SendResult:
        now = self._clock()
        config = await self._cache.config()
        gsm = normalise_gateway_id(cmd.gsm) if cmd.gsm else None
        if gsm is not None and gsm not in config.gateway_ids:
            raise OutboundError("gsm", f'Unknown GSM gateway "{cmd.gsm}"')
        if cmd.channel == "whatsapp":
            return await self._send_whatsapp(cmd, now, config, gsm)
        if cmd.template is not None:
            raise OutboundError("template", 'Templates are for WhatsApp: add "channel": "whatsapp"')
        media = await self._media(cmd) if cmd.media else None
        planned = plan(
            sender=cmd.user.as_sender(),
            destinations=cmd.destinations,
            text=cmd.text,
            send_at=cmd.send_at,
            now=now,
            default_region=None if cmd.strict_numbers else config.country,
            sender_number=cmd.sender_number,
            with_media=media is not None,
            rules=config.sender_rules,
        )

        def row(to: str, sender: str, text: str) -> dict[str, Any]:
            made = outbound_row(
                sender=sender,
                to=to,
                text=text,
                now=now,
                user_id=cmd.user.id,
                source=cmd.source,
                gsm=gsm,
                send_at=planned.send_at,
                conversation_id=cmd.conversation_id,
            ) | _callback(cmd)
            if cmd.channel == "web":  # on the page as soon as it is stored (`services.reply_links`)
                made.update(channel="web", status="delivered")
            return made

        batch = _Batch(cmd.user, [], on_write=cmd.on_write)
        refused = list(planned.refused)
        warnings = list(planned.warnings)
        days = reply_links.expiry_days(config.settings.get("pbx.reply_link_days"))
        linked = self._links is not None and reply_links.has_placeholder(cmd.text)
        for m in planned.messages:
            # A link binds the customer to a company number: the sender, or the user's office number when the
            # sender is a name (the customer's answers reach that number's conversation).
            company = m.sender if m.sender.startswith("+") else cmd.user.office_number
            if linked and m.body and not company:
                refused.append(Refusal(m.to, "a reply link needs a company number: the user has no office number"))
                continue
            # Issue 14 §4: judged against the transports that could carry it (not on the chat page: no carrier).
            links = check_links(
                m.body if cmd.channel != "web" else "",
                sender=m.sender,
                gsm=gsm,
                rules=config.link_rules,
                carriers=config.carriers,
                own_prefix=self._own_links,
            )
            if links.policy == "refuse":
                refused.append(Refusal(m.to, links.reason()))
                continue
            if links.policy == "warn" and links.reason() not in warnings:
                warnings.append(links.reason())
            if media is not None and media.files:
                reason = mms_refusal(
                    m.sender,
                    m.to,
                    mms_numbers=config.mms_numbers,
                    carriers=config.carriers,
                    mms_transports=config.mms_transports,
                )
                if reason is not None:
                    refused.append(Refusal(m.to, reason))
                    continue
            if m.body:
                text_row = row(m.to, m.sender, m.body)
                if self._links is not None and linked and company:
                    batch.links.append(_with_link(self._links, text_row, m.body, company, now, days))
                batch.rows.append(text_row)
            if media is not None:
                batch.rows += [row(m.to, m.sender, body) for body in media.texts]
                if media.files:
                    # The text went as its own SMS; the files go as one MMS (seed 001, issue 11 §4).
                    mms = {**row(m.to, m.sender, ""), "channel": "mms", "segments": 1}
                    batch.rows.append(mms)
                    batch.attachments[mms["id"]] = [a.id for a in media.files]
        held = await self._toll_free(batch, refused, config.toll_free, now)
        if not batch.rows:
            if held:
                raise OutboundError("from", held)
            first = refused[0]
            field = "number" if linked else "media"
            field = "message" if "refuses links" in first.reason else field  # issue 14 §4: the text is at fault
            raise OutboundError(field, f"Number {first.given}: {first.reason}")
        await self._committer.submit(batch)
        ACCEPTED.labels(cmd.source).inc(len(batch.rows))
        self._on_enqueued()
        left_out = media.left_out if media is not None else ()
        return SendResult(batch.rows, tuple(refused), left_out, tuple(warnings))

    async def _toll_free(
        self, batch: _Batch, refused: list[Refusal], numbers: dict[str, TollFree], now: datetime
    ) -> str | None:
        """Take out the rows an unverified toll-free sender may not send (core/toll_free.py), refusing their
        destinations with the reason; returns the reason when some were taken out. The daily count under ``limit``
        is read from the database: concurrent sends may each pass it once (a soft limit, as carriers apply it)."""
        reason = None
        for sender in sorted({r["sender"] for r in batch.rows} & set(numbers)):
            state = numbers[sender]
            rows = [r for r in batch.rows if r["sender"] == sender]
            sent = 0
            if not state.verified and state.unverified_sending == "limit":
                async with self._db.read() as conn:
                    sent = await messages.count_sent_since(conn, sender, now - timedelta(days=1))
            why = toll_free_refusal(sender, state, sent, len(rows))
            if why is None:
                continue
            reason = why
            batch.rows = [r for r in batch.rows if r["sender"] != sender]
            refused += [Refusal(to, why) for to in dict.fromkeys(r["recipient"] for r in rows)]
            for r in rows:
                batch.attachments.pop(r["id"], None)
        return reason

    async def _send_whatsapp(self, cmd: SendSms, now: datetime, config: Any, gsm: str | None) -> SendResult:
        if self._whatsapp is None:
            raise OutboundError("channel", "WhatsApp is not available on this server")
        if not cmd.user.license.may_send_sms:
            raise OutboundError("license", f"User {cmd.user.extension} has a {cmd.user.license.label} license; "
                                "sending needs essential or higher", forbidden=True)  # fmt: skip
        if cmd.media and self._attachments is None:
            raise OutboundError("media", "This server does not take attachments")
        found = await self._attachments.for_send(cmd.user, cmd.media) if cmd.media and self._attachments else []
        header = cmd.template.header_media if cmd.template is not None else None
        if header is not None:
            if self._attachments is None:
                raise OutboundError("template.header_media", "This server does not take attachments")
            try:
                await self._attachments.for_send(cmd.user, [header])
            except OutboundError as exc:
                raise OutboundError("template.header_media", exc.reason) from None
        send_at = cmd.send_at if cmd.send_at is not None and cmd.send_at > now else None

        def row(to: str, sender: str, text: str) -> dict[str, Any]:
            made = outbound_row(sender=sender, to=to, text=text, now=now, user_id=cmd.user.id, source=cmd.source,
                                gsm=gsm, send_at=send_at, conversation_id=cmd.conversation_id)  # fmt: skip
            return made | _callback(cmd)

        request = WhatsAppRequest(
            sender=cmd.sender_number or cmd.user.office_number, destinations=cmd.destinations, text=cmd.text,
            template=cmd.template, fallback=cmd.fallback, files=[a for a, _ in found],
            in_conversation=cmd.conversation_id is not None, send_at=send_at,
        )  # fmt: skip
        planned = await self._whatsapp.plan(request, config, now, row)
        batch = _Batch(cmd.user, planned.rows, planned.attachments)
        await self._committer.submit(batch)
        ACCEPTED.labels(cmd.source).inc(len(batch.rows))
        self._on_enqueued()
        return SendResult(batch.rows, tuple(planned.refused), tuple(planned.left_out))

    async def _media(self, cmd: SendSms) -> _Media:
        """The send's files, packed by the MMS rules; refused when nothing of them can go."""
        if self._attachments is None:
            raise OutboundError("media", "This server does not take attachments")
        found = await self._attachments.for_send(cmd.user, cmd.media)
        packed = pack([a for a, _ in found])
        texts = {a.id: text for a, text in found if text is not None}
        bodies = tuple(body for a in packed.text_files for body in text_messages(texts.get(a.id, "")))
        if not packed.files and not bodies:
            reasons = "; ".join(f"{x.attachment.filename}: {x.reason}" for x in packed.left_out)
            raise OutboundError("media", f"No file can be sent: {reasons or 'the files are empty'}")
        return _Media(packed.files, bodies, packed.left_out)

    async def _write(self, batches: list[_Batch]) -> list[None]:
        now = self._clock()
        config = await self._cache.config()
        month = now.strftime("%Y-%m")
        rows = [row for b in batches for row in b.rows]
        by_user: dict[int, tuple[User, list[dict[str, Any]]]] = {}
        for b in batches:
            by_user.setdefault(b.user.id, (b.user, []))[1].extend(b.rows)
        async with self._db.write() as conn:
            for user, user_rows in by_user.values():
                await charge_rows(conn, user, user_rows, month=month, prices=config.prices)
            await enqueue_rows(conn, rows, now)
            await links_store.add_all(conn, [link for b in batches for link in b.links])
            for b in batches:
                if b.on_write is not None:
                    await b.on_write(conn, b.rows)
            if self._attachments is not None:
                for b in batches:
                    for message_id, media_ids in b.attachments.items():
                        await self._attachments.attach(conn, message_id, media_ids)
        return [None] * len(batches)

    async def close(self) -> None:
        await self._committer.close()
