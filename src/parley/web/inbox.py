"""The shared inbox: the conversation list, one conversation's timeline and composer, and its members.

Every part is a fragment that htmx fetches on its own (and refetches on live events); the same routes
render the whole page for a plain request, so links and reloads work without JavaScript. Changes
(reply, members, new conversation) are in ``inbox_actions``; files (the composer's upload, the timeline's
pictures and players) in ``inbox_media``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from parley.core.draft import count_draft
from parley.core.reply_links import sample_link
from parley.services.conversations import ConversationError
from parley.services.directory import User
from parley.services.inbox_view import InboxQuery, describe_event, merge_timeline
from parley.services.link_check import check_links
from parley.web import inbox_actions, inbox_media, inbox_whatsapp
from parley.web.page_router import page_router
from parley.web.security import ConsoleRefused, ConsoleSession
from parley.web.templating import render, set_timezone

if TYPE_CHECKING:
    from parley.bootstrap import Parley


def list_query(
    filter: str = "all",
    service: str = "",
    number: str = "",
    unread: str = "",
    q: str = "",
    after: str = "",
) -> InboxQuery:
    """The list's filter form, as the query the service takes (bad values fall back to "everything")."""
    return InboxQuery(
        filter=filter,
        service_id=int(service) if service.isdigit() else None,
        company_number=number or None,
        unread_only=bool(unread),
        search=q or None,
        after=after or None,
    )


ListQuery = Annotated[InboxQuery, Depends(list_query)]  # the list's filters, from the query string


def list_params(q: InboxQuery, **extra: str) -> str:
    params = {
        "filter": q.filter,
        "service": str(q.service_id or ""),
        "number": q.company_number or "",
        "unread": "1" if q.unread_only else "",
        "q": q.search or "",
        **extra,
    }
    return urlencode({k: v for k, v in params.items() if v and not (k == "filter" and v == "all")})


TIMELINE_PAGE = 100  # messages per timeline page (events and calls of the same stretch of time come along)


class InboxPages:
    """What every inbox route needs: the services, and the context each fragment renders with."""

    def __init__(self, parley: Parley) -> None:
        self.parley = parley
        self.view = parley.inbox_view

    async def list_context(self, user: User, q: InboxQuery, selected: str | None = None) -> dict[str, Any]:
        set_timezone((await self.parley.cache.config()).timezone)
        page = await self.view.page(user, q)
        return {
            "rows": page.rows,
            "query": q,
            "selected": selected,
            "older": list_params(q, after=page.next_cursor) if page.next_cursor else None,
            "newest": list_params(q) if q.after else None,
        }

    async def filters_context(self, user: User) -> dict[str, Any]:
        return {
            "services": await self.view.sms_services(),
            "numbers": await self.view.company_numbers(user),
        }

    async def conversation_context(
        self, user: User, conversation_id: str, *, before: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """What a conversation's fragments render with. Reading it marks nothing: the page posts to
        ``/inbox/{id}/read`` once it is in front of the user (console.js), never a GET."""
        conversations = self.parley.conversations
        try:
            conversation = await conversations.get(user, conversation_id)
            found = await conversations.timeline(user, conversation_id, TIMELINE_PAGE, before)
        except ConversationError as exc:
            raise ConsoleRefused(exc.status, exc.reason) from None
        config = await self.parley.cache.config()
        set_timezone(config.timezone)
        member = user.extension in conversation["participants"]
        people = await self.view.people(found["events"])
        values = extra.pop("values", {})
        return {
            "conversation": conversation,
            "items": merge_timeline(found),
            "media": await inbox_media.timeline_media(self.parley, found["messages"]),
            "filesize": inbox_media.filesize,
            "media_kind": inbox_media.media_kind,
            **inbox_media.LIMITS,
            "timeline_older": found["older"],
            "describe": lambda e: describe_event(e.kind, e.actor, e.detail or {}, people),
            "names": await self.view.names(conversation["participants"]),
            "assignable": await self.view.assignable(conversation["service"]),
            "is_member": member,
            "errors": {},
            "values": values,
            "count_of_draft": count_draft(values.get("text", ""), sample_link(self.parley.settings.public_base)),
            "wa": inbox_whatsapp.composer_state(conversation, config, self.view.now()),
            **inbox_whatsapp.helpers(),
            **extra,
        }


def router(parley: Parley) -> APIRouter:
    pages = page_router()
    inbox = InboxPages(parley)

    @pages.get("/inbox")
    async def inbox_page(request: Request, session: ConsoleSession, query: ListQuery) -> Response:
        context = {
            **await inbox.list_context(session.user, query),
            **await inbox.filters_context(session.user),
            "new_errors": {},
            "new_values": {},
        }
        return render(request, "inbox/page.html", context)

    @pages.get("/inbox/list")
    async def conversation_list(
        request: Request, session: ConsoleSession, query: ListQuery, selected: str = ""
    ) -> Response:
        return render(request, "inbox/_list.html", await inbox.list_context(session.user, query, selected or None))

    @pages.get("/inbox/count")
    async def composer_count(
        request: Request,
        _: ConsoleSession,
        text: Annotated[str, Query()] = "",
        channel: Annotated[str, Query()] = "",
        from_: Annotated[str, Query(alias="from")] = "",
    ) -> Response:
        """The composer's counter, computed here so that it always agrees with what will be sent (on WhatsApp: one
        message of up to 4,096 characters, no segments); with what the conversation's transports do with links."""
        config = await parley.cache.config()
        links = check_links(text, sender=from_ or None, gsm=None, rules=config.link_rules, carriers=config.carriers,
                            own_prefix=parley.outbox.own_links)  # fmt: skip
        context = {
            "count": count_draft(text, sample_link(parley.settings.public_base)),
            "on_whatsapp": channel == "whatsapp",
            "characters": len(text),
            "links": links,
        }
        return render(request, "inbox/_count.html", context | inbox_whatsapp.helpers())

    @pages.get("/inbox/new")
    async def new_conversation_form(request: Request, session: ConsoleSession) -> Response:
        if request.headers.get("HX-Request") == "true":
            services = await inbox.view.sms_services()
            context = {"services": services, "new_errors": {}, "new_values": {}, "clear_members": True}
            return render(request, "inbox/_new.html", context)
        return await inbox_page(request, session, list_query())

    inbox_actions.add_routes(pages, inbox)
    inbox_media.add_routes(pages, parley)
    inbox_whatsapp.add_routes(pages, inbox, parley.whatsapp_templates)

    @pages.get("/inbox/{conversation_id}")
    async def conversation_page(request: Request, session: ConsoleSession, conversation_id: str) -> Response:
        context = await inbox.conversation_context(session.user, conversation_id)
        if request.headers.get("HX-Request") == "true":
            return render(request, "inbox/_selected.html", context)
        else:
            query = InboxQuery()
            context |= await inbox.list_context(session.user, query, conversation_id)
            context |= await inbox.filters_context(session.user)
            return render(request, "inbox/page.html", context)

    @pages.get("/inbox/{conversation_id}/timeline")
    async def timeline(request: Request, session: ConsoleSession, conversation_id: str) -> Response:
        context = await inbox.conversation_context(session.user, conversation_id)
        return render(request, "inbox/_timeline.html", {**context, "refresh": True})

    @pages.post("/inbox/{conversation_id}/read", status_code=204)
    async def mark_read(session: ConsoleSession, conversation_id: str) -> Response:
        """The page was seen: move the user's read marker (and tell the list to drop its unread badge)."""
        try:
            await parley.conversations.read(session.user, conversation_id)
        except ConversationError as exc:
            if exc.status != 403:  # 403: an admin looking at a conversation he is not in has no marker to move
                raise ConsoleRefused(exc.status, exc.reason) from None
        return Response(status_code=204, headers={"HX-Trigger": "inbox:read"})

    @pages.get("/inbox/{conversation_id}/older")
    async def older(request: Request, session: ConsoleSession, conversation_id: str, before: str) -> Response:
        """The page of the timeline before message ``before``: entries to put in place of "Show older"."""
        context = await inbox.conversation_context(session.user, conversation_id, before=before)
        return render(request, "inbox/_timeline_items.html", {**context, "older_page": True})

    @pages.get("/inbox/{conversation_id}/members")
    async def members(request: Request, session: ConsoleSession, conversation_id: str) -> Response:
        context = await inbox.conversation_context(session.user, conversation_id)
        return render(request, "inbox/_members.html", context)

    return pages
