"""Bulk campaigns (seeds 001, 003): recipients from a saved list or a CSV, start / stop / restart.

A recipient is one row keyed by (campaign, number), moved from `pending` to `queued` in the same
transaction that writes its message and job: a recipient can never be queued twice. Stop withdraws
queued messages no worker has touched (their recipients become pending again); restart carries on
with the pending ones. Messages a worker may already have handed over are never withdrawn, and the
dispatcher never resends a campaign message it journalled as submitted — so across stop, restart and
a kill -9 of any process, nobody gets the same campaign twice.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from datetime import datetime
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.characters import problem
from parley.core.numbers import is_nanp
from parley.core.recipients import BadRow, CsvError, Duplicate, RowResult, read_csv
from parley.core.reply_links import NAME as REPLY_LINK  # {reply_link}: a link per recipient (campaign_runner)
from parley.core.sender_id import make_sender_id
from parley.core.sending_hours import parse_sending_hours
from parley.core.templates import check
from parley.services import conversation_support as support
from parley.services.campaign_whatsapp import CampaignTemplate, check_campaign, column_problem
from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.services.whatsapp_sends import TemplateResolver
from parley.store import campaigns as store
from parley.store.db import Database
from parley.store.ids import new_id
from parley.store.statistics import ASSUMED
from parley.store.tables import Record, campaign_problems, campaign_recipients, campaigns, lists, numbers

CHANNELS = ("sms", "whatsapp")
STATUSES = ("draft", "scheduled", "running", "stopped", "completed", "failed")
MAX_ROWS = 1_000_000
CHUNK = 5_000
MAX_PAGE_OFFSET = 10_000  # a console page of campaigns reads offset + limit rows
# The text fields of a campaign as `create` reads them, with the word naming each in a refusal.
_TEXT_FIELDS = {
    "name": "The name",
    "message": "Message",
    "sender": "The sender",
    "sender_type": "The sender type",
    "rating_extension": "The rating extension",
}


class CampaignError(ServiceError):
    """A request about a campaign that cannot be done."""


class Campaigns:
    def __init__(
        self,
        db: Database,
        cache: DirectoryCache,
        clock: Callable[[], datetime],
        *,
        wake: Callable[[], None],
        templates: TemplateResolver | None = None,
    ) -> None:
        self._db = db
        self._templates = templates
        self._cache = cache
        self._clock = clock
        self._wake = wake

    # --- creating ----------------------------------------------------------------------------------

    async def create(self, user: User, spec: Mapping[str, Any]) -> dict[str, Any]:
        """A draft from ``spec``: name, sender_type, sender, message, rating_extension, list_id, start_at, hours;
        on WhatsApp (``channel``), ``whatsapp_template`` in place of the message."""
        for field, label in _TEXT_FIELDS.items():
            value = spec.get(field)
            unsafe = problem(label, value) if isinstance(value, str) else None
            if unsafe is not None:
                raise CampaignError(422, unsafe, field)
        name = str(spec.get("name") or "").strip()
        if not name:
            raise CampaignError(422, "A campaign needs a name", "name")
        channel = str(spec.get("channel") or "sms")
        if channel not in CHANNELS:
            raise CampaignError(422, f'"{channel}" is not one of {", ".join(CHANNELS)}', "channel")
        on_whatsapp = await self._whatsapp(spec) if channel == "whatsapp" else None
        template = on_whatsapp.text if on_whatsapp is not None else str(spec.get("message") or "")
        if not template.strip():
            raise CampaignError(422, "Message should not be empty", "message")
        rating = await self._rating_user(user, spec.get("rating_extension"))
        hours = None
        if spec.get("hours"):
            try:
                hours = parse_sending_hours(spec["hours"]).to_doc()
            except ValueError as exc:
                raise CampaignError(422, str(exc), "hours") from None
        now = self._clock()
        async with self._db.write() as conn:
            sender_type = str(spec.get("sender_type") or "number")
            sender = str(spec.get("sender") or "").strip()
            if on_whatsapp is None:
                sender = await self._sender(conn, sender_type, sender)
            list_id = spec.get("list_id")
            if list_id is not None:
                columns = await self._list_columns(conn, list_id)
                problems = check(template, [*columns, REPLY_LINK]) if on_whatsapp is None else []
                if problems:
                    raise CampaignError(422, problems[0], "message")
            cid = new_id()
            await store.add(
                conn,
                {
                    "id": cid,
                    "name": name,
                    "status": "draft",
                    "owner_id": user.id,
                    "rating_user_id": rating.id,
                    "sender_type": str(spec.get("sender_type") or "number"),
                    "sender": sender,
                    "template": template,
                    "channel": channel,
                    "whatsapp_template": on_whatsapp.spec.to_doc() if on_whatsapp is not None else None,
                    "list_id": int(list_id) if list_id is not None else None,
                    "start_at": spec.get("start_at"),
                    "hours": hours,
                    "total": 0,
                    "invalid": 0,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            if list_id is not None:
                total = await store.copy_from_list(conn, cid, int(list_id))
                await store.update(conn, cid, total=total)
        return await self.get(user, cid)

    async def _whatsapp(self, spec: Mapping[str, Any]) -> CampaignTemplate:
        """A WhatsApp campaign's sender and template, checked (and its columns, when a saved list gives them)."""
        columns = None
        if spec.get("list_id") is not None:
            async with self._db.read() as conn:
                columns = await self._list_columns(conn, spec["list_id"])
        try:
            return await check_campaign(self._templates, await self._cache.config(), spec, columns)
        except ServiceError as exc:
            raise CampaignError(exc.status, exc.reason, exc.field) from None

    async def _list_columns(self, conn: AsyncConnection, list_id: Any) -> list[str]:
        saved = (await conn.execute(sa.select(lists).where(lists.c.id == int(list_id)))).first()
        if saved is None:
            raise CampaignError(422, f"No list {list_id}", "list_id")
        return list(saved.columns)

    async def _rating_user(self, user: User, extension: str | None) -> User:
        """Who a new campaign is sent as and charged to: the creator, or whom an admin names.

        A user naming someone else would send as, and bill, that user (issue 10): only admins may.
        """
        if not extension or extension == user.extension:
            if not user.license.may_send_sms:
                raise CampaignError(403, f"User {user.extension} may not send SMS (a {user.license.label} license)")
            return user
        if not user.is_admin:
            raise CampaignError(403, "Only administrators may charge a campaign to another user")
        rating = await self._cache.user(extension)
        if rating is None:
            raise CampaignError(422, f'No user "{extension}"', "rating_extension")
        if not rating.license.may_send_sms:
            raise CampaignError(422, f"User {rating.extension} may not send SMS (license)", "rating_extension")
        return rating

    async def _sender(self, conn: AsyncConnection, sender_type: str, sender: str) -> str:
        if sender_type == "number":
            number = await support.find_number(conn, sender.strip())
            if number is None or not number.sms:
                raise CampaignError(422, f"{sender or 'the sender'} is not a company number that sends SMS", "sender")
            return str(number.number)
        if sender_type == "alphanumeric":
            made = make_sender_id(sender)
            if not sender.strip() or made != sender.strip():
                raise CampaignError(
                    422,
                    f'"{sender}" is not a sender name: at most 11 GSM letters, digits or spaces (try "{made}")',
                    "sender",
                )
            return made
        raise CampaignError(422, f'"{sender_type}" is not one of number, alphanumeric', "sender_type")

    async def upload(self, user: User, campaign_id: str, stream: IO[bytes]) -> dict[str, Any]:
        """Load recipients from a CSV into a draft: streamed in chunks, flat memory whatever the size.

        Rows are staged while the file is read and become pending only when all of it was read: a file
        that turns out bad half-way leaves nothing behind.
        """
        campaign = await self._visible(user, campaign_id)
        if campaign.status != "draft":
            raise CampaignError(409, f"Recipients can only be added to a draft; this campaign is {campaign.status}")
        config = await self._cache.config()
        try:  # in a worker thread, as every later chunk: the header alone may be 64 KB of cells to look at
            rows = await asyncio.to_thread(read_csv, stream, default_region=config.country, max_rows=MAX_ROWS)
        except CsvError as exc:
            raise CampaignError(422, exc.reason, "file") from None
        async with self._db.read() as conn:
            problems_before = await store.last_problem_id(conn, campaign_id)
        added = duplicates = invalid = 0
        sample: list[dict[str, Any]] = []
        recipients: list[dict[str, Any]] = []
        problems: list[dict[str, Any]] = []
        columns_checked = False
        try:
            async for row in _in_a_thread(rows):
                if isinstance(row, BadRow | Duplicate):
                    duplicates += isinstance(row, Duplicate)
                    invalid += isinstance(row, BadRow)
                    problems.append({"campaign_id": campaign_id, "line": row.line, "reason": row.reason[:300]})
                    if len(sample) < 1000:
                        sample.append({"line": row.line, "reason": row.reason})
                else:
                    if not columns_checked:
                        self._check_columns(campaign, list(row.fields))
                        columns_checked = True
                    recipients.append(
                        {"campaign_id": campaign_id, "number": row.number, "fields": row.fields, "state": "staged",
                         "line": row.line}
                    )  # fmt: skip
                if len(recipients) >= CHUNK or len(problems) >= CHUNK:
                    added += await self._store_chunk(campaign_id, recipients, problems)
                    recipients, problems = [], []
        except (CsvError, CampaignError) as exc:
            async with self._db.write() as conn:
                await store.discard_staged(conn, campaign_id, problems_after=problems_before)
            if isinstance(exc, CampaignError):
                raise
            raise CampaignError(422, f"{exc.reason}; nothing from this file was added", "file") from None
        added += await self._store_chunk(campaign_id, recipients, problems)
        async with self._db.write() as conn:
            await store.commit_staged(conn, campaign_id)
            total = await store.recipient_count(conn, campaign_id)
            await store.update(
                conn, campaign_id, total=total, invalid=campaign.invalid + invalid, updated_at=self._clock()
            )
        return {"added": added, "duplicates": duplicates, "invalid": invalid, "problems": sample}

    @staticmethod
    def _check_columns(campaign: Record, columns: list[str]) -> None:
        """The CSV's columns give every placeholder of the message (SMS) or the template's variables (WhatsApp)."""
        problem = column_problem(campaign.whatsapp_template, columns) if campaign.channel == "whatsapp" else None
        issues = check(campaign.template, [*columns, REPLY_LINK]) if campaign.channel != "whatsapp" else []
        if problem is not None or issues:
            raise CampaignError(422, *((problem.reason, problem.field) if problem else (issues[0], "message")))

    async def _store_chunk(
        self, campaign_id: str, recipients: list[dict[str, Any]], problems: list[dict[str, Any]]
    ) -> int:
        async with self._db.write() as conn:
            added = await store.add_recipients(conn, recipients)
            await store.add_problems(conn, problems)
        return added

    # --- running -----------------------------------------------------------------------------------

    async def start(self, user: User, campaign_id: str) -> dict[str, Any]:
        """Start a draft (or restart a stopped campaign): scheduled if its start time is ahead."""
        campaign = await self._visible(user, campaign_id)
        if campaign.status not in ("draft", "stopped", "scheduled"):
            raise CampaignError(409, f"A {campaign.status} campaign cannot be started")
        if campaign.total == 0:
            raise CampaignError(409, "The campaign has no recipients")
        now = self._clock()
        status = "scheduled" if campaign.start_at is not None and campaign.start_at > now else "running"
        async with self._db.write() as conn:
            await store.update(conn, campaign_id, status=status, started_at=campaign.started_at or now, updated_at=now)
        self._wake()
        return await self.get(user, campaign_id)

    async def stop(self, user: User, campaign_id: str) -> dict[str, Any]:
        """Nothing more goes; queued messages no worker has touched are withdrawn."""
        campaign = await self._visible(user, campaign_id)
        if campaign.status not in ("running", "scheduled"):
            raise CampaignError(
                409, f"Only a running or scheduled campaign can be stopped; this one is {campaign.status}"
            )
        now = self._clock()
        async with self._db.write() as conn:
            await store.update(conn, campaign_id, status="stopped", updated_at=now)
            await store.withdraw(conn, campaign_id, now=now)
        return await self.get(user, campaign_id)

    # --- reading -----------------------------------------------------------------------------------

    async def get(self, user: User, campaign_id: str) -> dict[str, Any]:
        campaign = await self._visible(user, campaign_id)
        async with self._db.read() as conn:
            counts = await store.counts(conn, campaign_id)
        return view(campaign, counts)

    async def list_(self, user: User, status: str | None, limit: int = 100) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise CampaignError(422, f"status must be one of {', '.join(STATUSES)}", "status")
        async with self._db.read() as conn:
            rows = await store.list_(conn, status=status, owner_id=None if user.is_admin else user.id, limit=limit)
            return [view(r, await store.counts(conn, r.id)) for r in rows]

    async def page(
        self, user: User, *, status: str | None = None, offset: int = 0, limit: int = 25
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page of the user's campaigns (admins: all), newest first, and whether more follow.

        Counters are read for this page's campaigns only; ``offset`` is capped at `MAX_PAGE_OFFSET`."""
        if status is not None and status not in STATUSES:
            raise CampaignError(422, f"status must be one of {', '.join(STATUSES)}", "status")
        offset = max(0, min(offset, MAX_PAGE_OFFSET))
        owner_id = None if user.is_admin else user.id
        async with self._db.read() as conn:
            rows = await store.list_(conn, status=status, owner_id=owner_id, limit=limit + 1, offset=offset)
            return [view(r, await store.counts(conn, r.id)) for r in rows[:limit]], len(rows) > limit

    async def sender_numbers(self) -> list[str]:
        """The company numbers that send SMS: the choices for a campaign's sender."""
        async with self._db.read() as conn:
            query = sa.select(numbers.c.number).where(numbers.c.sms.is_(True)).order_by(numbers.c.number)
            return [str(n) for n in (await conn.execute(query)).scalars()]

    async def discard(self, user: User, campaign_id: str) -> None:
        """Delete a draft with its recipients and problems (a form whose CSV was refused leaves nothing)."""
        campaign = await self._visible(user, campaign_id)
        if campaign.status != "draft":
            raise CampaignError(409, f"Only a draft can be discarded; this campaign is {campaign.status}")
        async with self._db.write() as conn:
            await conn.execute(campaign_recipients.delete().where(campaign_recipients.c.campaign_id == campaign_id))
            await conn.execute(campaign_problems.delete().where(campaign_problems.c.campaign_id == campaign_id))
            await conn.execute(campaigns.delete().where(campaigns.c.id == campaign_id))

    async def recipients(
        self, user: User, campaign_id: str, *, after: str | None, limit: int
    ) -> list[store.RecipientRow]:
        await self._visible(user, campaign_id)
        async with self._db.read() as conn:
            return await store.recipients_page(conn, campaign_id, after=after, limit=limit)

    async def problems(self, user: User, campaign_id: str) -> list[Record]:
        await self._visible(user, campaign_id)
        async with self._db.read() as conn:
            return await store.problems(conn, campaign_id)

    async def _visible(self, user: User, campaign_id: str) -> Record:
        async with self._db.read() as conn:
            campaign = await store.find(conn, campaign_id)
        if campaign is None or (not user.is_admin and campaign.owner_id != user.id):
            raise CampaignError(404, "No such campaign")
        return campaign


def view(campaign: Record, counts: Mapping[str, int]) -> dict[str, Any]:
    messages = {k.split(".", 1)[1]: v for k, v in counts.items() if k.startswith("messages.")}
    recipients = {k.split(".", 1)[1]: v for k, v in counts.items() if k.startswith("recipients.")}
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "owner": getattr(campaign, "owner", None),
        "rating_extension": getattr(campaign, "rating_extension", None),
        "sender_type": campaign.sender_type,
        "sender": campaign.sender,
        "channel": campaign.channel,
        "message": campaign.template,
        "whatsapp_template": campaign.whatsapp_template,
        "list_id": campaign.list_id,
        "start_at": campaign.start_at,
        "hours": campaign.hours,
        "created_at": campaign.created_at,
        "started_at": campaign.started_at,
        "completed_at": campaign.completed_at,
        "error": campaign.error,  # why a running campaign cannot advance (the runner's note), None when it can
        "counters": {
            "total": campaign.total,
            "pending": recipients.get("pending", 0),
            "queued": sum(messages.get(s, 0) for s in store.IN_FLIGHT),
            "sent": messages.get("sent", 0),
            "delivered": messages.get("delivered", 0),  # confirmed by a receipt
            "delivered_assumed": messages.get(ASSUMED, 0),  # handed to a transport without receipts
            "failed": messages.get("failed", 0) + messages.get("undelivered", 0),
            "skipped": recipients.get("skipped", 0),
            "invalid": campaign.invalid,
        },
    }


def plus_one_needs_a_number(sender_type: str, number: str) -> bool:
    """Seed 001: to +1 destinations only a company number may be the sender."""
    return sender_type == "alphanumeric" and is_nanp(number)


async def _in_a_thread(rows: Iterator[RowResult], chunk: int = 1000) -> AsyncIterator[RowResult]:
    """Read a CSV in a worker thread, a chunk at a time: parsing numbers is CPU work the API must not wait on."""
    while True:
        batch = await asyncio.to_thread(lambda: list(itertools.islice(rows, chunk)))
        if not batch:
            return
        for row in batch:
            yield row
