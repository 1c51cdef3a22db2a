"""The shared inbox: the conversation list, one conversation's timeline and composer, and its members.

Every part is a fragment that htmx fetches on its own (and refetches on live events); the same routes
render the whole page for a plain request, so links and reloads work without JavaScript. What the fragments
render with is in ``inbox_context``; changes (reply, members, new conversation) are in ``inbox_actions``;
files (the composer's upload, the timeline's pictures and players) in ``inbox_media``; WhatsApp's window and
templates in ``inbox_whatsapp``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import Response

from parley.app_state import ParleyDep
from parley.core.draft import count_draft
from parley.core.reply_links import sample_link
from parley.routes import adopt
from parley.services.conversations import ConversationError
from parley.services.inbox_view import InboxQuery
from parley.services.link_check import check_links
from parley.web import inbox_actions, inbox_media, inbox_whatsapp
from parley.web.inbox_context import conversation_context, filters_context, list_context
from parley.web.page_router import page_router
from parley.web.security import ConsoleRefused, ConsoleSession
from parley.web.templating import render


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


router = page_router()


@router.get("/inbox")
async def inbox_page(request: Request, session: ConsoleSession, query: ListQuery, parley: ParleyDep) -> Response:
    context = {
        **await list_context(parley, session.user, query),
        **await filters_context(parley, session.user),
        "new_errors": {},
        "new_values": {},
    }
    return render(request, "inbox/page.html", context)


@router.get("/inbox/list")
async def conversation_list(
    request: Request, session: ConsoleSession, query: ListQuery, parley: ParleyDep, selected: str = ""
) -> Response:
    context = await list_context(parley, session.user, query, selected or None)
    return render(request, "inbox/_list.html", context)


@router.get("/inbox/count")
async def composer_count(
    request: Request,
    _: ConsoleSession,
    parley: ParleyDep,
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


@router.get("/inbox/new")
async def new_conversation_form(request: Request, session: ConsoleSession, parley: ParleyDep) -> Response:
    if request.headers.get("HX-Request") == "true":
        services = await parley.inbox_view.sms_services()
        context = {"services": services, "new_errors": {}, "new_values": {}, "clear_members": True}
        return render(request, "inbox/_new.html", context)
    return await inbox_page(request, session, list_query(), parley)


# The other modules' routes come here, in this order, as they always have: before /inbox/{conversation_id}.
adopt(router, inbox_actions.router, inbox_media.router, inbox_whatsapp.router)


@router.get("/inbox/{conversation_id}")
async def conversation_page(
    request: Request, session: ConsoleSession, conversation_id: str, parley: ParleyDep
) -> Response:
    context = await conversation_context(parley, session.user, conversation_id)
    if request.headers.get("HX-Request") == "true":
        return render(request, "inbox/_selected.html", context)
    else:
        query = InboxQuery()
        context |= await list_context(parley, session.user, query, conversation_id)
        context |= await filters_context(parley, session.user)
        return render(request, "inbox/page.html", context)


@router.get("/inbox/{conversation_id}/timeline")
async def timeline(request: Request, session: ConsoleSession, conversation_id: str, parley: ParleyDep) -> Response:
    context = await conversation_context(parley, session.user, conversation_id)
    return render(request, "inbox/_timeline.html", {**context, "refresh": True})


@router.post("/inbox/{conversation_id}/read", status_code=204)
async def mark_read(session: ConsoleSession, conversation_id: str, parley: ParleyDep) -> Response:
    """The page was seen: move the user's read marker (and tell the list to drop its unread badge)."""
    try:
        await parley.conversations.read(session.user, conversation_id)
    except ConversationError as exc:
        if exc.status != 403:  # 403: an admin looking at a conversation he is not in has no marker to move
            raise ConsoleRefused(exc.status, exc.reason) from None
    return Response(status_code=204, headers={"HX-Trigger": "inbox:read"})


@router.get("/inbox/{conversation_id}/older")
async def older(
    request: Request, session: ConsoleSession, conversation_id: str, before: str, parley: ParleyDep
) -> Response:
    """The page of the timeline before message ``before``: entries to put in place of "Show older"."""
    context = await conversation_context(parley, session.user, conversation_id, before=before)
    return render(request, "inbox/_timeline_items.html", {**context, "older_page": True})


@router.get("/inbox/{conversation_id}/members")
async def members(request: Request, session: ConsoleSession, conversation_id: str, parley: ParleyDep) -> Response:
    context = await conversation_context(parley, session.user, conversation_id)
    return render(request, "inbox/_members.html", context)
