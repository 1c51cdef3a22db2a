"""Outbound webhook endpoints in the console (issue 13 §1): create one (its secret shown once), see its deliveries
with the receiver's answers, resend one, enable an endpoint Parley disabled; admins see everyone's, and every
console page tells them when an endpoint was disabled (``/webhook-endpoints/alerts``, loaded by base.html)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from parley.app_state import ParleyDep
from parley.core.webhook_events import EVENT_TYPES
from parley.services.errors import ServiceError
from parley.web.page_router import page_router
from parley.web.security import ConsoleRefused, ConsoleSession
from parley.web.templating import field_errors, render, set_timezone

if TYPE_CHECKING:
    from parley.bootstrap import Parley
    from parley.services.directory import User

EVENT_HINTS = {
    "message.status": "every status of your messages (queued first)",
    "message.received": "inbound messages of your conversations",
    "conversation.created": "conversations you are in, when they open",
    "conversation.updated": "conversations you are in, when they change",
    "campaign.finished": "your campaigns, when they end",
}


router = page_router()


async def _context(parley: Parley, user: User) -> dict[str, Any]:
    set_timezone((await parley.cache.config()).timezone)
    return {"endpoints": await parley.webhooks.list_(user), "events": [(e, EVENT_HINTS[e]) for e in EVENT_TYPES],
            "errors": {}, "values": {"events": ["message.status"]}, "created": None}  # fmt: skip


@router.get("/webhook-endpoints")
async def index(request: Request, session: ConsoleSession, parley: ParleyDep) -> Response:
    return render(request, "webhooks/index.html", await _context(parley, session.user))


@router.post("/webhook-endpoints")
async def create(request: Request, session: ConsoleSession, parley: ParleyDep) -> Response:
    form = await request.form()
    url, description = str(form.get("url") or ""), str(form.get("description") or "")
    events = [str(e) for e in form.getlist("events")]
    try:
        created = await parley.webhooks.create(session.user, url, events, description)
    except ServiceError as exc:
        if exc.status != 422:
            raise ConsoleRefused(exc.status, exc.reason) from None
        values = {"url": url, "description": description, "events": events}
        ctx = {**await _context(parley, session.user), "errors": field_errors(exc), "values": values}
        return render(request, "webhooks/index.html", ctx, status=422)
    answer = render(request, "webhooks/index.html", {**await _context(parley, session.user), "created": created})
    answer.headers["Cache-Control"] = "no-store"  # the page holds the secret: not for the back button
    return answer


@router.get("/webhook-endpoints/alerts")
async def alerts(request: Request, session: ConsoleSession, parley: ParleyDep) -> Response:
    """A notice naming the endpoints Parley disabled (empty when none): base.html loads it on every page."""
    disabled = await parley.webhooks.disabled(session.user) if session.user.is_admin else []
    return render(request, "webhooks/_alerts.html", {"disabled": disabled})


@router.get("/webhook-endpoints/{endpoint_id}")
async def endpoint(request: Request, endpoint_id: str, session: ConsoleSession, parley: ParleyDep) -> Response:
    set_timezone((await parley.cache.config()).timezone)
    try:
        found = await parley.webhooks.get(session.user, endpoint_id)
        deliveries = await parley.webhooks.deliveries(session.user, endpoint_id, limit=100)
    except ServiceError as exc:
        raise ConsoleRefused(exc.status, exc.reason) from None
    return render(request, "webhooks/endpoint.html", {"endpoint": found, "deliveries": deliveries})


@router.post("/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/resend")
async def resend(endpoint_id: str, delivery_id: int, session: ConsoleSession, parley: ParleyDep) -> Response:
    try:
        await parley.webhooks.resend(session.user, endpoint_id, delivery_id)
    except ServiceError as exc:
        raise ConsoleRefused(exc.status, exc.reason) from None
    return RedirectResponse(f"/webhook-endpoints/{endpoint_id}?resent={delivery_id}", status_code=303)


@router.post("/webhook-endpoints/{endpoint_id}/enable")
async def enable(endpoint_id: str, session: ConsoleSession, parley: ParleyDep) -> Response:
    try:
        await parley.webhooks.update(session.user, endpoint_id, {"enabled": True})
    except ServiceError as exc:
        raise ConsoleRefused(exc.status, exc.reason) from None
    return RedirectResponse(f"/webhook-endpoints/{endpoint_id}", status_code=303)


@router.post("/webhook-endpoints/{endpoint_id}/delete")
async def delete(endpoint_id: str, session: ConsoleSession, parley: ParleyDep) -> Response:
    try:
        await parley.webhooks.delete(session.user, endpoint_id)
    except ServiceError as exc:
        raise ConsoleRefused(exc.status, exc.reason) from None
    return RedirectResponse("/webhook-endpoints", status_code=303)
