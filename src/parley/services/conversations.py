"""What agents do with conversations: open one, reply, manage members, read, block, record calls.

Rules (issue 3): participants are internal users and bots only; sending needs a business license or
higher and active membership; replies go out from the conversation's company number through the
outbound core; an agent who types STOP blocks the customer (nothing is sent) and START lifts it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.membership import bot_key, user_key
from parley.core.mms import LeftOut
from parley.core.numbers import InvalidNumber, parse_e164
from parley.core.optout import Keyword, agent_command
from parley.core.outbound import MAX_MESSAGE_LENGTH, OutboundError, check_text
from parley.core.whatsapp_rules import MAX_TEXT, TemplateSpec
from parley.services import conversation_access as access
from parley.services import conversation_support as support
from parley.services import whatsapp_read
from parley.services.conversation_calls import record_call
from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.services.events import Event, EventBus
from parley.services.send import Outbox, SendSms
from parley.services.whatsapp_sends import WindowClosedError
from parley.store import blocks as block_store
from parley.store import conversations as store
from parley.store import participants as participant_store
from parley.store import timeline as timeline_store
from parley.store.conversations import ConversationFilter
from parley.store.db import Database
from parley.store.ids import new_id
from parley.store.tables import Record, bots


class ConversationError(ServiceError):
    """A request about a conversation that cannot be done."""


@dataclass(frozen=True)
class Posted:
    message: dict[str, Any] | None  # None when the text was an agent command (STOP / START)
    command: str | None = None
    messages: tuple[dict[str, Any], ...] = ()  # every message the reply became (its text as SMS, files as MMS)
    left_out: tuple[LeftOut, ...] = ()  # files that did not fit the MMS


class Conversations:
    def __init__(
        self,
        db: Database,
        cache: DirectoryCache,
        outbox: Outbox,
        bus: EventBus,
        clock: Callable[[], datetime],
        *,
        on_page: Callable[[str, str], Awaitable[bool]] | None = None,
    ) -> None:
        self._on_page = on_page  # (company number, customer): on a reply link's chat page now (reply_links)
        self._db = db
        self._cache = cache
        self._outbox = outbox
        self._bus = bus
        self._clock = clock

    # --- reading ---------------------------------------------------------------------------------

    async def list_(self, user: User, f: ConversationFilter) -> list[dict[str, Any]]:
        if not user.is_admin:
            f = ConversationFilter(**{**f.__dict__, "user_id": user.id})
        async with self._db.read() as conn:
            rows = await store.list_(conn, f)
            ids = [r.id for r in rows]
            members = await participant_store.members_of(conn, ids)
            unread = await participant_store.unread_counts(conn, user.id, ids)
        return [support.view(r, members[r.id], unread.get(r.id, 0)) for r in rows]

    async def get(self, user: User, conversation_id: str) -> dict[str, Any]:
        async with self._db.read() as conn:
            conversation, members = await self._visible(conn, user, conversation_id)
            unread = await participant_store.unread_counts(conn, user.id, [conversation_id])
        return support.view(conversation, members, unread.get(conversation_id, 0))

    async def timeline(
        self, user: User, conversation_id: str, limit: int = 200, before: str | None = None, *, blocked: bool = False
    ) -> dict[str, Any]:
        """The newest ``limit`` messages (those before message ``before``, for an older page) with the events
        and calls of the same stretch of time; ``older`` is the cursor of the page before, None at the start.
        A blocked customer's messages are kept but not shown; an admin may ask for them (``blocked``)."""
        if blocked:
            self._require_admin(user)
        async with self._db.read() as conn:
            _, members = await self._visible(conn, user, conversation_id)
            upto = access.seen_until(user, members)
            until = None
            if before is not None:
                anchor = await timeline_store.conversation_message(conn, conversation_id, before)
                if anchor is None:
                    raise ConversationError(422, "no such message in this conversation", "before")
                until = anchor.created_at
            msgs = await timeline_store.conversation_messages(
                conn, conversation_id, limit=limit + 1, before_id=before, include_blocked=blocked, upto=upto
            )
            older = msgs[1].id if len(msgs) > limit else None
            msgs = msgs[1:] if older else msgs
            since = msgs[0].created_at if older and msgs else None
            events = await timeline_store.events(conn, conversation_id, since=since, until=until, upto=upto)
            call_rows = await timeline_store.calls_of(conn, conversation_id, since=since, until=until, upto=upto)
        return {"messages": msgs, "events": events, "calls": call_rows, "older": older}

    async def _visible(self, conn: AsyncConnection, user: User, conversation_id: str) -> tuple[Record, list[Record]]:
        conversation = await store.find(conn, conversation_id)
        if conversation is None:
            raise ConversationError(404, "No such conversation")
        members = await participant_store.members(conn, conversation_id)
        if not user.is_admin and not any(m.user_id == user.id for m in members):
            raise ConversationError(404, "No such conversation")
        return conversation, members

    async def _member(self, conn: AsyncConnection, user: User, conversation_id: str) -> tuple[Record, list[Record]]:
        """The conversation, for a user who is an active participant in it."""
        conversation, members = await self._visible(conn, user, conversation_id)
        if not any(m.user_id == user.id and m.active for m in members):
            raise ConversationError(403, "Join the conversation first: you are not one of its participants")
        return conversation, members

    # --- opening and replying ---------------------------------------------------------------------

    async def open(self, user: User, to: str, service_name: str) -> dict[str, Any]:
        """Seed 001 "Create SMS conversation": one customer number + a service with an SMS number."""
        self._require_license(user)
        config = await self._cache.config()
        try:
            customer = parse_e164(to, config.country)
        except InvalidNumber as exc:
            raise ConversationError(422, exc.reason, "to") from None
        now = self._clock()
        async with self._db.write() as conn:
            service = await support.service_by_name(conn, service_name)
            if service is None:
                raise ConversationError(422, f'No service named "{service_name}"', "service")
            if not service.sms_number:
                raise ConversationError(422, f'The service "{service_name}" has no SMS number', "service")
            key = store.thread_key(service.sms_number, customer, service.id)
            conversation = await store.find_by_thread(conn, key)
            await access.check_may_join(conn, user, service, conversation)
            timeline = []
            if conversation is None:
                cid = new_id()
                await store.add(
                    conn,
                    {
                        "id": cid, "thread_key": key, "company_number": service.sms_number,
                        "external_number": customer, "service_id": service.id, "title": customer,
                        "assignee_id": None, "unrouted": False, "created_at": now, "updated_at": now,
                    },
                )  # fmt: skip
                timeline.append(support.event_row(cid, "opened", user_key(user.id), now))
            else:
                cid = conversation.id
            if await participant_store.put_member(conn, cid, user_key(user.id), user_id=user.id, bot=None, now=now):
                timeline.append(support.event_row(cid, "joined", user_key(user.id), now, member=user_key(user.id)))
                await store.update(conn, cid, updated_at=now)
            await timeline_store.add_events(conn, timeline)
            audience = await support.active_user_ids(conn, cid)
        await self._bus.publish([Event("conversation.updated", {"conversation_id": cid}, audience)])
        return await self.get(user, cid)

    async def post(
        self,
        user: User,
        conversation_id: str,
        text: str,
        send_at: datetime | None = None,
        media: Sequence[str] = (),
        *,
        channel: str | None = None,
        template: TemplateSpec | None = None,
        fallback: str | None = None,
    ) -> Posted:
        """Reply from the conversation's company number; ``send_at`` postpones it (the outbox holds it);
        ``media`` (uploaded files' ids) go as an MMS beside the text, or one by one on WhatsApp. ``channel``:
        "sms" or "whatsapp"; by default the one the customer last wrote on (`support.reply_channel`)."""
        self._require_license(user)
        async with self._db.read() as conn:
            conversation, _ = await self._member(conn, user, conversation_id)
            number = await support.find_number(conn, conversation.company_number)
            current = await support.owning_service(conn, number, conversation.company_number)
        config = await self._cache.config()
        chosen = support.reply_channel(conversation, config, channel, template is not None)
        # Issue 14 §1: while the customer has a reply link's chat page open, the reply goes there; else by SMS.
        if (
            chosen == "sms" and channel is None and not media and send_at is None and self._on_page is not None
            and await self._on_page(conversation.company_number, conversation.external_number)
        ):  # fmt: skip
            chosen = "web"
        if template is None:
            try:
                if text or not media:
                    check_text(text, field="text", limit=MAX_TEXT if chosen == "whatsapp" else MAX_MESSAGE_LENGTH)
            except OutboundError as exc:
                raise ConversationError(422, exc.reason, "text") from None
        command = agent_command(text) if not media and template is None else None
        if command is not None:
            await self._block(user, conversation, blocked=command is Keyword.STOP)
            return Posted(None, command.value)
        if conversation.service_id is not None and (current is None or current.id != conversation.service_id):
            raise ConversationError(
                409,
                f"{conversation.company_number} is no longer linked to this conversation's service; "
                "this conversation can no longer send",
            )
        try:
            result = await self._outbox.send(
                SendSms(
                    user=user, destinations=[conversation.external_number], text=text, source="conversation",
                    sender_number=conversation.company_number, conversation_id=conversation_id, strict_numbers=True,
                    send_at=send_at, media=media, channel=chosen, template=template, fallback=fallback,
                )
            )  # fmt: skip
        except WindowClosedError as exc:
            raise support.window_closed(exc) from None
        except OutboundError as exc:
            field = exc.field if exc.field in ("media", "template", "channel") else "text"
            if exc.field.startswith("template."):
                field = exc.field
            raise ConversationError(403 if exc.forbidden else 422, exc.reason, field) from None
        now = self._clock()
        async with self._db.write() as conn:
            await store.update(conn, conversation_id, last_reply_at=now, last_message_at=now, updated_at=now)
            audience = await support.active_user_ids(conn, conversation_id)
        sent = tuple({**m, "user": user.extension} for m in result.messages)
        await self._bus.publish(
            [
                Event("message.created", {"conversation_id": conversation_id, "message_id": m["id"]}, audience)
                for m in sent
            ]
        )
        return Posted(sent[0], messages=sent, left_out=result.left_out)

    async def _block(self, user: User, conversation: Record, *, blocked: bool) -> None:
        now = self._clock()
        async with self._db.write() as conn:
            if blocked:
                changed = await block_store.block(
                    conn, conversation.company_number, conversation.external_number, user.id, now
                )
            else:
                changed = await block_store.unblock(conn, conversation.company_number, conversation.external_number)
            if changed:
                kind = "blocked" if blocked else "unblocked"
                await timeline_store.add_events(
                    conn, [support.event_row(conversation.id, kind, user_key(user.id), now)]
                )
                await store.update(conn, conversation.id, updated_at=now)
            audience = await support.active_user_ids(conn, conversation.id)
        await self._bus.publish([Event("conversation.updated", {"conversation_id": conversation.id}, audience)])

    # --- members -----------------------------------------------------------------------------------

    async def add_member(self, user: User, conversation_id: str, member: str) -> dict[str, Any]:
        """``member``: a user's extension or a bot's name. Customers and outside numbers are refused."""
        now = self._clock()
        async with self._db.write() as conn:
            await self._member(conn, user, conversation_id)
            key, uid, bot = await self._resolve(conn, member)
            timeline = []
            if await participant_store.put_member(conn, conversation_id, key, user_id=uid, bot=bot, now=now):
                timeline.append(support.event_row(conversation_id, "joined", user_key(user.id), now, member=key))
            announce = await self._changed(conn, conversation_id, timeline, now)
        await self._bus.publish([announce])  # announced once committed
        return await self.get(user, conversation_id)

    async def _resolve(self, conn: AsyncConnection, member: str) -> tuple[str, int | None, str | None]:
        target = await self._cache.user(member)
        if target is not None:
            if not target.license.may_converse:
                raise ConversationError(
                    422,
                    f"User {member} has a {target.license.label} license; conversations need business or higher",
                    "member",
                )
            return user_key(target.id), target.id, None
        if await conn.scalar(sa.select(bots.c.id).where(bots.c.name == member)) is not None:
            return bot_key(member), None, member
        if any(ch.isdigit() for ch in member) and member.lstrip("+").replace(" ", "").isdigit():
            raise ConversationError(
                422, "Only internal users and bots can be participants; customers and outside numbers cannot", "member"
            )
        raise ConversationError(422, f'No user or bot "{member}"', "member")

    async def remove_member(self, user: User, conversation_id: str, member: str) -> dict[str, Any]:
        now = self._clock()
        async with self._db.write() as conn:
            await self._member(conn, user, conversation_id)
            key, _, bot = await self._resolve(conn, member)
            # An agent who removes a bot makes it inactive: routing will not bring it back.
            if not await participant_store.drop_member(conn, conversation_id, key, now=now, by_agent=bot is not None):
                raise ConversationError(422, f'"{member}" is not in this conversation', "member")
            event = support.event_row(conversation_id, "removed", user_key(user.id), now, member=key)
            announce = await self._changed(conn, conversation_id, [event], now)
        await self._bus.publish([announce])  # announced once committed
        return await self.get(user, conversation_id)

    async def leave(self, user: User, conversation_id: str) -> None:
        now = self._clock()
        async with self._db.write() as conn:
            await self._member(conn, user, conversation_id)
            await participant_store.drop_member(conn, conversation_id, user_key(user.id), now=now, by_agent=False)
            event = support.event_row(conversation_id, "left", user_key(user.id), now, member=user_key(user.id))
            announce = await self._changed(conn, conversation_id, [event], now)
        await self._bus.publish([announce])  # announced once committed

    async def assign(self, user: User, conversation_id: str, extension: str | None) -> dict[str, Any]:
        now = self._clock()
        async with self._db.write() as conn:
            conversation, _ = await self._member(conn, user, conversation_id)
            target = await self._cache.user(extension) if extension else None
            if extension and target is None:
                raise ConversationError(422, f'No user "{extension}"', "assignee")
            if target is not None:
                if conversation.service_id is not None and not await support.is_service_member(
                    conn, conversation.service_id, target.id
                ):
                    raise ConversationError(
                        422, f"User {extension} is not a member of {conversation.service}", "assignee"
                    )
                if not target.license.may_converse:
                    raise ConversationError(422, f"User {extension} may not take conversations (license)", "assignee")
                await participant_store.put_member(
                    conn, conversation_id, user_key(target.id), user_id=target.id, bot=None, now=now
                )
            await store.update(conn, conversation_id, assignee_id=target.id if target else None)
            event = support.event_row(conversation_id, "assigned", user_key(user.id), now, assignee=extension)
            announce = await self._changed(conn, conversation_id, [event], now)
        await self._bus.publish([announce])  # announced once committed
        return await self.get(user, conversation_id)

    async def rename(
        self, user: User, conversation_id: str, title: str | None, *, service: str | None = None
    ) -> dict[str, Any]:
        """A new title. A conversation's service never changes once it is created (seed 001): one per (company
        number, customer, service), so another service is another conversation."""
        now = self._clock()
        async with self._db.write() as conn:
            conversation, _ = await self._member(conn, user, conversation_id)
            if service is not None and service != conversation.service:
                raise ConversationError(
                    422,
                    f"A conversation's service never changes (this one is {conversation.service or 'without a service'}"
                    f"); open a conversation with {service} instead",
                    "service",
                )
            title = (title or "").strip()
            if not title or len(title) > 200:
                raise ConversationError(422, "Title must be 1 to 200 characters", "title")
            await store.update(conn, conversation_id, title=title)
            event = support.event_row(conversation_id, "renamed", user_key(user.id), now, title=title)
            announce = await self._changed(conn, conversation_id, [event], now)
        await self._bus.publish([announce])  # announced once committed
        return await self.get(user, conversation_id)

    async def read(self, user: User, conversation_id: str) -> None:
        now = self._clock()
        async with self._db.write() as conn:
            await self._member(conn, user, conversation_id)
            await participant_store.mark_read(conn, conversation_id, user_key(user.id), now)
            await whatsapp_read.request(conn, conversation_id, now)  # the customer's WhatsApp messages, at Meta

    async def _changed(self, conn: AsyncConnection, conversation_id: str, timeline: list[Any], now: datetime) -> Event:
        """Record a change; the caller publishes the event it returns after the commit (DESIGN: nothing is
        announced that was not committed — a page re-reading on it would otherwise see the old state)."""
        await timeline_store.add_events(conn, timeline)
        await store.update(conn, conversation_id, updated_at=now)
        audience = await support.active_user_ids(conn, conversation_id)
        return Event("conversation.updated", {"conversation_id": conversation_id}, audience)

    # --- admin -------------------------------------------------------------------------------------

    async def list_blocks(self, user: User) -> list[Record]:
        self._require_admin(user)
        async with self._db.read() as conn:
            return await block_store.list_blocks(conn)

    async def lift_block(self, user: User, company_number: str, external_number: str) -> None:
        self._require_admin(user)
        async with self._db.write() as conn:
            if not await block_store.unblock(conn, company_number, external_number):
                raise ConversationError(404, "No such block")

    # --- calls ---------------------------------------------------------------------------------------

    async def record_call(self, user: User, call: dict[str, Any]) -> dict[str, Any]:
        """Seed 002: a call links into the conversation with the same customer and service (or opens it)."""
        return await record_call(self._db, self._cache, self._clock(), user, call)

    # --- guards ------------------------------------------------------------------------------------

    @staticmethod
    def _require_license(user: User) -> None:
        if not user.license.may_converse:
            raise ConversationError(
                403, f"User {user.extension} has a {user.license.label} license; conversations need business or higher"
            )

    @staticmethod
    def _require_admin(user: User) -> None:
        if not user.is_admin:
            raise ConversationError(403, "Administrators only")
