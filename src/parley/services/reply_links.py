"""Reply links (issue 14 §1): made with the messages that carry them, opened as a chat page, posted through.

A link is made in the transaction that stores its message (`mint` gives the row; the caller inserts it with
`store.reply_links.add_all`). Opening a link needs only the token: a malformed, unknown (a tampered token is
unknown) or expired one is refused (`LinkInvalid`) before anything is read or stored. What the customer writes
enters through the `Inbox` as an inbound message on channel ``web`` from the link's customer to the link's company
number, so routing, hours, bots and actions treat it as they treat an SMS; the link's row, never the request,
says who wrote and to whom.

"On the page" is the page's open event stream: while it is open it pushes ``present_until`` `PRESENCE` ahead
(in the database, so every process sees it); a stream that dies leaves the mark to lapse. Agents' replies go on
channel ``web`` while a mark is ahead of now (`customer_present`), else by SMS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from parley.channels.base import Inbound
from parley.core import reply_links as rules
from parley.services.admin_checks import AdminError, require_admin
from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.services.events import Event
from parley.services.receive import Inbox
from parley.store import directory
from parley.store import reply_links as store
from parley.store.db import Database
from parley.store.ids import new_id
from parley.store.tables import Record

PRESENCE = timedelta(seconds=45)  # the stream renews it every `PRESENCE_RENEW`; a dead page is away within this
PRESENCE_RENEW = 15.0
SHOWN = 50  # messages on the page
DEFAULT_COMPANY_NAME = "Parley"
MAX_COMPANY_NAME = 80
TRANSPORT = "web"


class LinkInvalid(Exception):
    """The link cannot be used: 404 (malformed, unknown, tampered) or 410 (expired)."""

    def __init__(self, status: int) -> None:
        super().__init__("this link is no longer valid")
        self.status = status


class RateLimited(ServiceError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(429, f"too many messages: try again in {retry_after} s", "text")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Chat:
    link_id: str
    company_name: str
    company_number: str
    customer: str
    messages: tuple[dict[str, Any], ...]  # `shown`

    def accepts(self, event: Event) -> bool:
        """The bus events the page's stream takes (filtered again, after expansion, by `shown_event`)."""
        return event.type == "message.created"

    def shown_event(self, event: Event) -> dict[str, Any] | None:
        """The message of a `message.created` event as the page shows it, when it is between this link's two
        numbers; None for anything else (no other customer's or company's data ever reaches the page)."""
        message = event.data.get("message")
        if event.type != "message.created" or not isinstance(message, dict):
            return None
        outbound = (message.get("direction"), message.get("sender"), message.get("recipient")) == (
            "out", self.company_number, self.customer,
        )  # fmt: skip
        inbound = (message.get("direction"), message.get("sender"), message.get("recipient")) == (
            "in", self.customer, self.company_number,
        )  # fmt: skip
        if not (outbound or inbound) or message.get("status") == "blocked" or not message.get("body"):
            return None
        return shown(message)


def shown(message: Any) -> dict[str, Any]:
    """A message as the page has it: its id, text, time, and whether the customer wrote it. Nothing else."""
    get = message.get if isinstance(message, dict) else lambda k: getattr(message, k)
    at = get("created_at")
    return {
        "id": str(get("id")),
        "mine": get("direction") == "in",
        "text": str(get("body")),
        "at": at.isoformat() if isinstance(at, datetime) else str(at),
    }


def mint(
    base: str, company_number: str, customer: str, message_id: str | None, now: datetime, days: int
) -> tuple[dict[str, Any], str]:
    """A new link's row and its URL (the token itself is in the URL only)."""
    token = rules.new_token()
    row = {
        "id": new_id(), "token_hash": rules.token_hash(token), "company_number": company_number,
        "customer": customer, "message_id": message_id, "created_at": now, "expires_at": now + timedelta(days=days),
        "present_until": None,
    }  # fmt: skip
    return row, rules.link_url(base, token)


class LinkMaker:
    """Fills ``{reply_link}`` in outbound rows, one link per row; the rows' links are inserted with them."""

    def __init__(self, base: str) -> None:
        self.base = base

    def fill(self, row: dict[str, Any], text: str, company_number: str, now: datetime, days: int) -> dict[str, Any]:
        """The link row for ``row`` (whose ``body`` and segments the caller measures from the returned text)."""
        link, url = mint(self.base, company_number, row["recipient"], row["id"], now, days)
        row["body"] = rules.fill(text, url)
        return link


class ReplyLinks:
    def __init__(self, db: Database, cache: DirectoryCache, inbox: Inbox, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._cache = cache
        self._inbox = inbox
        self._clock = clock

    async def _link(self, token: str) -> Record:
        if not rules.is_token(token):
            raise LinkInvalid(404)
        async with self._db.read() as conn:
            link = await store.find_by_hash(conn, rules.token_hash(token))
        if link is None:
            raise LinkInvalid(404)
        if not rules.is_live(link.expires_at, self._clock()):
            raise LinkInvalid(410)
        return link

    async def open(self, token: str) -> Chat:
        """The chat behind a link: the company's name, the message that carried the link and those after it."""
        link = await self._link(token)
        config = await self._cache.config()
        name = config.settings.get("pbx.company_name")
        async with self._db.read() as conn:
            first = await store.find_message(conn, link.message_id) if link.message_id else None
            since = min(link.created_at, first.created_at) if first is not None else link.created_at
            rows = await store.thread_messages(conn, link.company_number, link.customer, since, SHOWN)
        found = [r for r in rows if first is None or r.id != first.id]
        messages = ([first] if first is not None else []) + found
        return Chat(
            link.id,
            str(name) if isinstance(name, str) and name.strip() else DEFAULT_COMPANY_NAME,
            link.company_number,
            link.customer,
            tuple(shown(m) for m in messages),
        )

    async def post(self, token: str, text: str, address: str) -> str:
        """Store what the customer wrote as an inbound ``web`` message; returns its id. Raises `LinkInvalid`,
        `RateLimited` (nothing is stored for either)."""
        link = await self._link(token)
        await self._count(link.id, address)
        inbound = Inbound(link.customer, link.company_number, text, channel="web")
        message_id = await self._inbox.receive(TRANSPORT, inbound, source="web")
        if message_id is None:  # only concatenated SMS parts wait; a web message is whole
            raise ServiceError(500, "the message was not stored")
        return message_id

    async def _count(self, link_id: str, address: str) -> None:
        """Count one post against the link's and the address's windows (`core.reply_links.RATES`)."""
        now = self._clock()
        hashed = hashlib.sha256(address.encode("utf-8", "replace")).hexdigest()[:48]
        keys = {"link": f"link:{link_id}", "address": f"addr:{hashed}"}
        async with self._db.write() as conn:
            changes = []
            for kind, key in keys.items():
                found = await store.counter(conn, key)
                rate = rules.RATES[kind]
                start, count, allowed = rules.next_window(
                    found.window_start if found else None, found.count if found else 0, now, rate
                )
                if not allowed:
                    retry = max(1, int((start + rate.window - now).total_seconds()) + 1)
                    raise RateLimited(retry)
                changes.append((key, start, count, found is not None))
            for key, start, count, exists in changes:
                await store.put_counter(conn, key, start, count, exists=exists)
            await store.forget_counters(conn, now - timedelta(hours=1))

    async def present(self, link_id: str, here: bool) -> None:
        """The page's stream is open (renewed every `PRESENCE_RENEW`) or has closed."""
        async with self._db.write() as conn:
            await store.set_present(conn, link_id, self._clock() + PRESENCE if here else None)

    async def settings(self, actor: User) -> dict[str, str]:
        """The company name on the page and the links' lifetime, as the admin form shows them."""
        require_admin(actor)
        settings = (await self._cache.config()).settings
        name = settings.get("pbx.company_name")
        return {
            "company_name": name if isinstance(name, str) else "",
            "reply_link_days": str(rules.expiry_days(settings.get("pbx.reply_link_days"))),
        }

    async def save_settings(self, actor: User, company_name: str, days: str) -> None:
        """The same settings as ``[pbx] company_name`` and ``reply_link_days`` (a later `parley apply` wins)."""
        require_admin(actor)
        name = company_name.strip()
        if len(name) > MAX_COMPANY_NAME:
            raise AdminError.on("company_name", f"must be at most {MAX_COMPANY_NAME} characters")
        if not days.strip().isdigit() or not 1 <= int(days) <= rules.MAX_DAYS:
            raise AdminError.on("reply_link_days", f"must be a whole number of days from 1 to {rules.MAX_DAYS}")
        async with self._db.write() as conn:
            await directory.put_setting(conn, "pbx.company_name", name or DEFAULT_COMPANY_NAME)
            await directory.put_setting(conn, "pbx.reply_link_days", int(days))
        self._cache.invalidate()

    async def customer_present(self, company_number: str, customer: str) -> bool:
        async with self._db.read() as conn:
            return await store.is_present(conn, company_number, customer, self._clock())
