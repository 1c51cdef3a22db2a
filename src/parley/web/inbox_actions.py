"""What agents change from the inbox: reply (now or later), open a conversation, and manage its members.

Each form posts with htmx and gets back the fragment it lives in (errors under their fields, status 422),
or, as a plain form, a redirect after the post (or the whole page with the errors).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from parley.app_state import ParleyDep
from parley.services.errors import ServiceError
from parley.services.inbox_view import InboxQuery
from parley.web.inbox_context import conversation_context, filters_context, list_context
from parley.web.inbox_media import filesize
from parley.web.inbox_whatsapp import template_spec
from parley.web.page_router import page_router
from parley.web.security import ConsoleSession
from parley.web.templating import field_errors, local_time, render

if TYPE_CHECKING:
    from parley.bootstrap import Parley


def _htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _refused_status(request: Request, exc: ServiceError) -> int:
    """htmx swaps only 2xx and 422 (console.js): any refusal shown inside a form goes back as 422."""
    return 422 if _htmx(request) else exc.status


def _changed(conversation_id: str) -> str:
    """HX-Trigger: tell this tab's parts at once (the live stream tells the others)."""
    return json.dumps({"parley:conversation.updated": {"conversation_id": conversation_id}})


async def _whole_page(
    parley: Parley, request: Request, session: Any, conversation_id: str, status: int, **extra: Any
) -> Response:
    context = await conversation_context(parley, session.user, conversation_id, **extra)
    context |= await list_context(parley, session.user, InboxQuery(), conversation_id)
    context |= await filters_context(parley, session.user)
    return render(request, "inbox/page.html", context, status=status)


router = page_router()


@router.post("/inbox/new")
async def open_conversation(
    request: Request,
    session: ConsoleSession,
    parley: ParleyDep,
    to: Annotated[str, Form()] = "",
    service: Annotated[str, Form()] = "",
) -> Response:
    try:
        opened = await parley.conversations.open(session.user, to, service)
    except ServiceError as exc:
        context = {
            "services": await parley.inbox_view.sms_services(),
            "new_errors": field_errors(exc),
            "new_values": {"to": to, "service": service},
        }
        if _htmx(request):
            return render(request, "inbox/_new.html", context, status=422)
        context |= await list_context(parley, session.user, InboxQuery())
        context |= await filters_context(parley, session.user)
        return render(request, "inbox/page.html", context, status=exc.status)
    target = f"/inbox/{opened['id']}"
    if _htmx(request):
        return Response(
            status_code=200, headers={"HX-Location": json.dumps({"path": target, "target": "#conversation"})}
        )
    return RedirectResponse(target, status_code=303)


@router.post("/inbox/{conversation_id}/messages")
async def reply(
    request: Request,
    session: ConsoleSession,
    conversation_id: str,
    parley: ParleyDep,
    text: Annotated[str, Form()] = "",
    send_at: Annotated[str, Form()] = "",
    media: Annotated[list[str] | None, Form()] = None,
    channel: Annotated[str, Form()] = "",
    template: Annotated[str, Form()] = "",
    variables: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """``media``: the ids the composer's uploads (``POST /inbox/media``) answered, in the order shown;
    ``channel``: sms or whatsapp (empty: the customer's last); ``template`` (name|language) and its
    ``variables``: a WhatsApp template in place of the text (web/inbox_whatsapp.py)."""
    try:
        when = await parley.inbox_view.send_time(send_at)
        if template:
            spec = template_spec(template, variables or [])
            posted = await parley.conversations.post(
                session.user, conversation_id, "", send_at=when, channel="whatsapp", template=spec
            )
        else:
            posted = await parley.conversations.post(
                session.user, conversation_id, text, send_at=when, media=media or (), channel=channel or None
            )
    except ServiceError as exc:
        errors = field_errors(exc)
        if template and (exc.field or "").startswith(("template", "name", "language", "variables")):
            errors = {"template": exc.reason}
        if not _htmx(request):
            values = {"text": text, "send_at": send_at}
            return await _whole_page(
                parley, request, session, conversation_id, exc.status, errors=errors, values=values
            )
        context = {"cid": conversation_id, "errors": errors, "oob": True}
        refused = render(request, "inbox/_composer_feedback.html", context, status=_refused_status(request, exc))
        closed_at = exc.extra.get("window_closed_at")
        if closed_at is not None:  # the window closed since the page counted it: offer only templates now
            closed = f"WhatsApp window closed at {local_time(closed_at)} — only templates can be sent"
            refused.headers["HX-Trigger"] = json.dumps({"inbox:window-closed": {"text": closed}})
        return refused
    if not _htmx(request):
        return RedirectResponse(f"/inbox/{conversation_id}", status_code=303)
    if posted.command is not None:
        note = f"{posted.command.upper()}: the customer is now {'un' if posted.command == 'start' else ''}blocked"
    elif when is not None:
        note = f"Scheduled for {local_time(when)}"
    else:
        note = "Sent"
    context = {"cid": conversation_id, "errors": {}, "oob": True, "note": note}
    context |= {"left_out": posted.left_out, "filesize": filesize}
    response = render(request, "inbox/_composer_feedback.html", context)
    response.headers["HX-Trigger"] = json.dumps(
        {"parley:message.created": {"conversation_id": conversation_id}, "inbox:sent": {}}
    )
    return response


async def _member_change(
    parley: Parley,
    request: Request,
    session: Any,
    conversation_id: str,
    change: Callable[[], Awaitable[Any]],
    values: dict[str, str],
) -> Response:
    try:
        await change()
    except ServiceError as exc:
        errors = field_errors(exc)
        if not _htmx(request):
            return await _whole_page(
                parley, request, session, conversation_id, exc.status, errors=errors, values=values
            )
        context = await conversation_context(parley, session.user, conversation_id, errors=errors, values=values)
        return render(request, "inbox/_members.html", context, status=_refused_status(request, exc))
    if not _htmx(request):
        return RedirectResponse(f"/inbox/{conversation_id}", status_code=303)
    context = await conversation_context(parley, session.user, conversation_id)
    response = render(request, "inbox/_members.html", context)
    response.headers["HX-Trigger"] = _changed(conversation_id)
    return response


@router.post("/inbox/{conversation_id}/members")
async def add_member(
    request: Request,
    session: ConsoleSession,
    conversation_id: str,
    parley: ParleyDep,
    member: Annotated[str, Form()] = "",
) -> Response:
    async def change() -> Any:
        return await parley.conversations.add_member(session.user, conversation_id, member.strip())

    return await _member_change(parley, request, session, conversation_id, change, {"member": member})


@router.post("/inbox/{conversation_id}/members/remove")
async def remove_member(
    request: Request,
    session: ConsoleSession,
    conversation_id: str,
    parley: ParleyDep,
    member: Annotated[str, Form()] = "",
) -> Response:
    async def change() -> Any:
        return await parley.conversations.remove_member(session.user, conversation_id, member)

    return await _member_change(parley, request, session, conversation_id, change, {})


@router.post("/inbox/{conversation_id}/assign")
async def assign(
    request: Request,
    session: ConsoleSession,
    conversation_id: str,
    parley: ParleyDep,
    assignee: Annotated[str, Form()] = "",
) -> Response:
    async def change() -> Any:
        return await parley.conversations.assign(session.user, conversation_id, assignee or None)

    return await _member_change(parley, request, session, conversation_id, change, {"assignee": assignee})


@router.post("/inbox/{conversation_id}/rename")
async def rename(
    request: Request,
    session: ConsoleSession,
    conversation_id: str,
    parley: ParleyDep,
    title: Annotated[str, Form()] = "",
) -> Response:
    async def change() -> Any:
        return await parley.conversations.rename(session.user, conversation_id, title)

    return await _member_change(parley, request, session, conversation_id, change, {"title": title})


@router.post("/inbox/{conversation_id}/leave")
async def leave(request: Request, session: ConsoleSession, conversation_id: str, parley: ParleyDep) -> Response:
    try:
        await parley.conversations.leave(session.user, conversation_id)
    except ServiceError as exc:
        if not _htmx(request):
            return await _whole_page(parley, request, session, conversation_id, exc.status, errors=field_errors(exc))
        context = await conversation_context(parley, session.user, conversation_id, errors=field_errors(exc))
        return render(request, "inbox/_members.html", context, status=_refused_status(request, exc))
    if _htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": "/inbox"})
    return RedirectResponse("/inbox", status_code=303)
