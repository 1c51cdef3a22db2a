"""What the inbox's fragments render with: the conversation list (and its filters) and one conversation.

Shared by the inbox's routes (``inbox``) and its changes (``inbox_actions``), which answer with the same
fragments; here so that neither imports the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from parley.core.draft import count_draft
from parley.core.reply_links import sample_link
from parley.services.conversations import ConversationError
from parley.services.inbox_view import InboxQuery, describe_event, merge_timeline
from parley.web import inbox_media, inbox_whatsapp
from parley.web.security import ConsoleRefused
from parley.web.templating import set_timezone

if TYPE_CHECKING:
    from parley.bootstrap import Parley
    from parley.services.directory import User

TIMELINE_PAGE = 100  # messages per timeline page (events and calls of the same stretch of time come along)


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


async def list_context(parley: Parley, user: User, q: InboxQuery, selected: str | None = None) -> dict[str, Any]:
    set_timezone((await parley.cache.config()).timezone)
    page = await parley.inbox_view.page(user, q)
    return {
        "rows": page.rows,
        "query": q,
        "selected": selected,
        "older": list_params(q, after=page.next_cursor) if page.next_cursor else None,
        "newest": list_params(q) if q.after else None,
    }


async def filters_context(parley: Parley, user: User) -> dict[str, Any]:
    view = parley.inbox_view
    return {
        "services": await view.sms_services(),
        "numbers": await view.company_numbers(user),
    }


async def conversation_context(
    parley: Parley, user: User, conversation_id: str, *, before: str | None = None, **extra: Any
) -> dict[str, Any]:
    """What a conversation's fragments render with. Reading it marks nothing: the page posts to
    ``/inbox/{id}/read`` once it is in front of the user (console.js), never a GET."""
    conversations, view = parley.conversations, parley.inbox_view
    try:
        conversation = await conversations.get(user, conversation_id)
        found = await conversations.timeline(user, conversation_id, TIMELINE_PAGE, before)
    except ConversationError as exc:
        raise ConsoleRefused(exc.status, exc.reason) from None
    config = await parley.cache.config()
    set_timezone(config.timezone)
    member = user.extension in conversation["participants"]
    people = await view.people(found["events"])
    values = extra.pop("values", {})
    return {
        "conversation": conversation,
        "items": merge_timeline(found),
        "media": await inbox_media.timeline_media(parley, found["messages"]),
        "filesize": inbox_media.filesize,
        "media_kind": inbox_media.media_kind,
        **inbox_media.LIMITS,
        "timeline_older": found["older"],
        "describe": lambda e: describe_event(e.kind, e.actor, e.detail or {}, people),
        "names": await view.names(conversation["participants"]),
        "assignable": await view.assignable(conversation["service"]),
        "is_member": member,
        "errors": {},
        "values": values,
        "count_of_draft": count_draft(values.get("text", ""), sample_link(parley.settings.public_base)),
        "wa": inbox_whatsapp.composer_state(conversation, config, view.now()),
        **inbox_whatsapp.helpers(),
        **extra,
    }
