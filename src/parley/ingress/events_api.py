"""Server-Sent Events: GET /api/v2/events streams a user's new messages and conversation changes.

A `message.created` event carries the message (``message``) in the JSON of a message in the conversation's timeline
(GET /api/v2/conversations/{id}/messages), rendered by the same function.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from parley.app_state import ParleyDep
from parley.ingress.api import CurrentUser, message_out
from parley.ingress.api_auth import ends_when_revoked
from parley.services.events import Event

KEEPALIVE_SECONDS = 15.0


def event_data(event: Event) -> str:
    """The event's ``data:`` line: its fields, with a message rendered as the API renders messages."""
    data: dict[str, Any] = event.data
    if isinstance(data.get("message"), dict):
        data = {**data, "message": message_out(data["message"]).model_dump(mode="json", by_alias=True)}
    return json.dumps(data, default=str)


router = APIRouter(prefix="/api/v2", tags=["Live updates"])


@router.get("/events", response_class=StreamingResponse)
async def events(request: Request, user: CurrentUser, parley: ParleyDep) -> StreamingResponse:
    """`text/event-stream`: events `message.created`, `conversation.updated`, ... with JSON data."""

    bus = parley.bus
    subscription = await bus.subscribe(user.id, user.is_admin)

    async def stream() -> AsyncIterator[str]:
        next_event: asyncio.Task[Event] | None = None
        yield ": connected\n\n"
        try:
            while not await request.is_disconnected():
                if next_event is None:
                    next_event = asyncio.ensure_future(subscription.queue.get())
                done, _ = await asyncio.wait({next_event}, timeout=KEEPALIVE_SECONDS)
                if not done:
                    yield ": keep-alive\n\n"
                    continue
                waiting = [next_event.result(), *subscription.waiting()]
                next_event = None
                yield "".join(f"event: {event.type}\ndata: {event_data(event)}\n\n" for event in waiting)
        finally:
            if next_event is not None:
                next_event.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await next_event
            bus.unsubscribe(subscription)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    # A stream outlives no sign-out, password change or change of role (re-checked every few seconds).
    return StreamingResponse(ends_when_revoked(request, stream()), media_type="text/event-stream", headers=headers)
