"""The campaign runner: moves pending recipients into the send queue, a window at a time, fairly.

Each tick, every running campaign may top its in-flight messages up to `WINDOW`, in turn, so campaigns
side by side share the transports; the dispatcher and each transport's throughput set the real pace.
A recipient outside the campaign's sending hours (in the recipient's own time zone) waits with a
`not_before` time: the campaign pauses and resumes by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core import whatsapp_pacing as pacing
from parley.core.campaign_templates import fill
from parley.core.characters import clean, problem
from parley.core.numbers import region_of
from parley.core.outbound import MAX_MESSAGE_LENGTH
from parley.core.reply_links import NAME as REPLY_LINK
from parley.core.reply_links import expiry_days
from parley.core.sender_rules import Choice, SenderRefused, judge
from parley.core.sending_hours import next_allowed, parse_sending_hours, recipient_zone
from parley.core.templates import placeholders, render
from parley.core.whatsapp_rules import TemplateSpec
from parley.logs import Failures, one_line
from parley.services.campaign_whatsapp import resolve, whatsapp_number
from parley.services.campaigns import plus_one_needs_a_number
from parley.services.directory import DirectoryCache, User, user_from_row
from parley.services.errors import ServiceError
from parley.services.reply_links import LinkMaker, mint
from parley.services.send import charge_rows, enqueue_rows, outbound_row
from parley.services.whatsapp_sends import TemplateResolver
from parley.store import blocklist, messages, queue
from parley.store import campaigns as store
from parley.store import reply_links as links_store
from parley.store.db import Database
from parley.store.tables import Record, users

log = structlog.get_logger()

WINDOW = 1000  # a campaign's messages waiting in the queue at most (a stop withdraws them cheaply)
BATCH = 500


class CampaignRunner:
    def __init__(
        self,
        db: Database,
        cache: DirectoryCache,
        clock: Callable[[], datetime],
        *,
        on_enqueued: Callable[[], None],
        templates: TemplateResolver | None = None,
        links: LinkMaker | None = None,
    ) -> None:
        self._db = db
        self._links = links  # fills {reply_link} per recipient; None: it renders as ""
        self._templates = templates
        self._cache = cache
        self._clock = clock
        self._on_enqueued = on_enqueued
        self.active = 0  # running campaigns seen by the last tick
        self._failures = Failures(log)

    async def tick(self) -> int:
        """One round over the active campaigns; returns how many recipients were handled."""
        now = self._clock()
        handled = 0
        async with self._db.write() as conn:
            for campaign in await store.with_status(conn, ["scheduled"]):
                if campaign.start_at is None or campaign.start_at <= now:
                    await store.update(conn, campaign.id, status="running", updated_at=now)
        async with self._db.read() as conn:
            running = await store.with_status(conn, ["running"])
        self.active = len(running)
        for campaign in running:
            try:
                handled += await self._advance(campaign)
            except Exception as exc:  # this campaign cannot advance at all; the others go on
                self._failures.exception("campaign.tick_failed", campaign=campaign.id)
                reason = f"cannot send: {_reason(exc)}"
                if campaign.error != reason:
                    await self._note(campaign.id, reason)
        if handled:
            self._on_enqueued()
        return handled

    async def _advance(self, campaign: Record) -> int:
        """Queue the next window of recipients in one transaction; if it fails, again one recipient at a time.

        A WhatsApp campaign whose number left WhatsApp or whose template is no longer approved sends nothing (the
        reason is noted on it) until that is put right: its recipients are not skipped."""
        whatsapp = await self._whatsapp(campaign) if campaign.channel == "whatsapp" else None
        try:
            return await self._top_up(campaign, whatsapp, one_by_one=False)
        except Exception:
            self._failures.exception("campaign.batch_failed", campaign=campaign.id)
            return await self._top_up(campaign, whatsapp, one_by_one=True)

    async def _whatsapp(self, campaign: Record) -> _WhatsApp:
        number = whatsapp_number(await self._cache.config(), campaign.sender)
        spec = TemplateSpec.from_doc(campaign.whatsapp_template or {}, "whatsapp_template")
        templates = self._templates
        if templates is None:
            raise ServiceError(422, "WhatsApp templates are not available in this installation", "whatsapp_template")
        await resolve(templates, campaign.sender, spec)  # still approved: else the campaign waits, noted
        return _WhatsApp(number.rate, spec, templates)

    async def _top_up(self, campaign: Record, whatsapp: _WhatsApp | None, *, one_by_one: bool) -> int:
        """Take pending recipients up to the window and queue their messages. ``one_by_one``: each recipient in a
        savepoint; one that fails is skipped with the reason (shown with the recipients) and the others go on."""
        now = self._clock()
        config = await self._cache.config()
        async with self._db.write() as conn:
            current = await store.find(conn, campaign.id)
            if current is None or current.status != "running":  # stopped meanwhile
                return 0
            room = WINDOW - await store.in_flight(conn, campaign.id)
            if whatsapp is not None and room > 0:  # no further ahead than the number's pace allows
                await store.lock_sender(conn, campaign.sender)
                room = min(room, pacing.room(whatsapp.rate, await store.whatsapp_tail(conn, campaign.sender), now))
            batch = await store.take_pending(conn, campaign.id, now=now, limit=min(BATCH, room)) if room > 0 else []
            if not batch:
                await self._maybe_complete(conn, campaign, now)
                return 0
            rating = await _rating_user(conn, campaign.rating_user_id)
            blocked = await blocklist.contains(conn, [r.number for r in batch])
            plan = _Plan(campaign, rating, blocked, config, now, whatsapp, self._links)
            if not one_by_one:
                await plan.write(conn, [await plan.recipient(r) for r in batch])
            else:
                for recipient in batch:
                    try:
                        async with conn.begin_nested():
                            await plan.write(conn, [await plan.recipient(recipient)])
                    except Exception as exc:
                        self._failures.exception("campaign.recipient_failed", campaign=campaign.id)
                        skipped = {"number": recipient.number, "state": "skipped", "reason": _reason(exc)}
                        await store.set_recipients(conn, campaign.id, [skipped])
            if current.error is not None:
                await store.update(conn, campaign.id, error=None)
        return len(batch)

    async def _note(self, campaign_id: str, reason: str) -> None:
        """Keep why the campaign cannot advance on it (``error``, shown with the campaign)."""
        try:
            async with self._db.write() as conn:
                await store.update(conn, campaign_id, error=reason, updated_at=self._clock())
        except Exception:
            self._failures.exception("campaign.note_failed", campaign=campaign_id)

    async def _maybe_complete(self, conn: AsyncConnection, campaign: Record, now: datetime) -> None:
        counts = await store.counts(conn, campaign.id)
        if counts.get("recipients.pending", 0) == 0 and await store.in_flight(conn, campaign.id) == 0:
            await store.update(conn, campaign.id, status="completed", completed_at=now, updated_at=now)
            log.info("campaign.completed", campaign=campaign.id)


async def _rating_user(conn: AsyncConnection, user_id: int | None) -> User | None:
    if user_id is None:
        return None
    row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).first()
    return user_from_row(row) if row is not None else None


def _reason(exc: BaseException) -> str:
    """An exception as a reason a user reads and the database stores (one line, storable, 200 characters)."""
    return clean(one_line(exc, 200)).text


@dataclass(frozen=True)
class _WhatsApp:
    """What a top-up of a WhatsApp campaign needs: the number's pace, the template as written, its resolver."""

    rate: int
    spec: TemplateSpec
    templates: TemplateResolver


class _Plan:
    """What one top-up of a campaign knows: turns a pending recipient into its change (and message row), and
    writes changes with their messages and jobs."""

    def __init__(
        self,
        campaign: Record,
        rating: User | None,
        blocked: set[str],
        config: Any,
        now: datetime,
        whatsapp: _WhatsApp | None = None,
        links: LinkMaker | None = None,
    ) -> None:
        self.campaign = campaign
        self.links = links if REPLY_LINK in placeholders(campaign.template) and whatsapp is None else None
        self.link_rows: dict[str, dict[str, Any]] = {}  # message id -> its reply link, written with it
        self.rating = rating
        self.blocked = blocked
        self.config = config
        self.now = now
        self.hours = parse_sending_hours(campaign.hours) if campaign.hours else None
        self.whatsapp = whatsapp

    async def recipient(self, recipient: Record) -> tuple[dict[str, Any], dict[str, Any] | None]:
        campaign, now = self.campaign, self.now
        change: dict[str, Any] = {"number": recipient.number}
        if recipient.number in self.blocked:  # opted out or blocklisted: nothing, on any channel
            change.update(state="skipped", reason="blocklisted or opted out")
            return change, None
        template: TemplateSpec | None = None
        if self.whatsapp is not None:
            filled = await self._fill(self.whatsapp, recipient)
            if isinstance(filled, str):
                change.update(state="skipped", reason=filled[:200])
                return change, None
            template, text = filled
        else:
            fields = recipient.fields
            if self.links is not None:
                if not campaign.sender.startswith("+"):
                    change.update(state="skipped", reason="a reply link needs a company number as the sender")
                    return change, None
                days = expiry_days(self.config.settings.get("pbx.reply_link_days"))
                link, url = mint(self.links.base, campaign.sender, recipient.number, None, now, days)
                fields = {**fields, REPLY_LINK: url}
            text = render(campaign.template, fields)
        hours = self.hours
        wait = next_allowed(hours, recipient_zone(recipient.number, self.config.timezone), now) if hours else None
        unsafe = problem("the message for this recipient", text)
        sender = self._sender(recipient.number)
        if plus_one_needs_a_number(campaign.sender_type, recipient.number):
            change.update(state="skipped", reason="+1 destinations need a company number as the sender")
        elif not text.strip() or len(text) > MAX_MESSAGE_LENGTH:
            change.update(state="skipped", reason=f"the message is empty or longer than {MAX_MESSAGE_LENGTH}")
        elif unsafe is not None:  # a list entry stored before entries were checked
            change.update(state="skipped", reason=unsafe[:200])
        elif isinstance(sender, str):  # the destination country refuses this sender ID (issue 14 §3)
            change.update(state="skipped", reason=sender[:200])
        elif wait is not None:
            change.update(not_before=wait)
        else:
            if sender.sender != campaign.sender:  # shown with the recipient: sent from the office number instead
                change.update(reason=sender.warnings[0].split(": ", 1)[-1][:200] if sender.warnings else None)
            row = outbound_row(
                sender=sender.sender,
                to=recipient.number,
                text=text,
                now=now,
                user_id=campaign.rating_user_id,
                source="campaign",
                campaign_id=campaign.id,
            )
            if template is not None:  # the dispatcher sends it as this template on the number's WhatsApp transport
                row.update(channel="whatsapp", template=template.to_doc(), segments=1)
            if self.links is not None:
                self.link_rows[row["id"]] = {**link, "message_id": row["id"]}
            change.update(state="queued", message_id=row["id"])
            return change, row
        return change, None

    def _sender(self, number: str) -> Choice | str:
        """The sender for ``number`` under the sender-ID rules by country, or why the country refuses it: an
        alphanumeric campaign falls back to the charged user's office number like any send."""
        if self.whatsapp is not None or self.campaign.sender_type != "alphanumeric":
            return Choice(self.campaign.sender)
        office = self.rating.office_number if self.rating is not None else None
        try:
            return judge(number, region_of(number), self.campaign.sender, office, self.config.sender_rules)
        except SenderRefused as exc:
            return str(exc)
        except ValueError:  # a number phonenumbers cannot place: no country rule applies
            return Choice(self.campaign.sender)

    async def _fill(self, whatsapp: _WhatsApp, recipient: Record) -> tuple[TemplateSpec, str] | str:
        """The template filled for this recipient and the text the customer sees, or why it cannot be sent."""
        filled = fill(whatsapp.spec, recipient.fields)
        if isinstance(filled, str):
            return filled
        try:
            resolved = await whatsapp.templates.resolve(self.campaign.sender, filled)
        except ServiceError as exc:
            return exc.reason
        return filled, resolved.text

    async def write(self, conn: AsyncConnection, planned: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> None:
        rows = [row for _, row in planned if row is not None]
        sms = [row for row in rows if row["channel"] != "whatsapp"]  # WhatsApp is no part of the SMS package
        if sms and self.rating is not None:
            await charge_rows(conn, self.rating, sms, month=self.now.strftime("%Y-%m"), prices=self.config.prices)
        if self.whatsapp is not None and rows:
            await self._paced(conn, rows, self.whatsapp.rate)
        else:
            await enqueue_rows(conn, rows, self.now)
        await links_store.add_all(conn, [self.link_rows.pop(r["id"]) for r in rows if r["id"] in self.link_rows])
        await store.set_recipients(conn, self.campaign.id, [change for change, _ in planned])

    async def _paced(self, conn: AsyncConnection, rows: list[dict[str, Any]], rate: int) -> None:
        """Write WhatsApp rows with jobs due at the number's pace and each customer's gap (`core.whatsapp_pacing`),
        read from the queue and the last messages: the same for every runner process."""
        sender, now = self.campaign.sender, self.now
        await store.lock_sender(conn, sender)
        recipients = [row["recipient"] for row in rows]
        due = pacing.due_times(
            recipients,
            now=now,
            rate=rate,
            tail=await store.whatsapp_tail(conn, sender),
            last_to=await store.last_whatsapp_to(conn, sender, recipients, now=now, since=now - pacing.CUSTOMER_GAP),
        )
        await messages.add_all(conn, rows)
        await queue.enqueue_many(conn, [(row["id"], due[row["recipient"]]) for row in rows])
