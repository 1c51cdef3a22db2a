"""The reply-link chat page (issue 14 §1): ``/r/<token>``, no sign-in, for a customer who opened a link in an SMS.

- ``GET /r/<token>``: the page (the company's name, the message that carried the link, the messages after it,
  a box to answer). ``POST /r/<token>``: an answer (form field ``text``; JSON back for the page's script, else a
  redirect to the page). ``GET /r/<token>/events``: the page's live stream — messages between the link's two
  numbers, nothing else — which also marks the customer as on the page (`services.reply_links`).
- A malformed, unknown or tampered token is a plain 404 page, an expired one 410; nothing is stored.
- Safety when opened from an SMS: the console's policy (scripts and styles from Parley only, no framing),
  ``Referrer-Policy: no-referrer`` (the token is in the URL) and ``Cache-Control: no-store``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse

from parley.app_state import ParleyDep
from parley.core import reply_links as rules
from parley.services.events import Event
from parley.services.reply_links import PRESENCE_RENEW, Chat, LinkInvalid, RateLimited
from parley.web.templating import templates

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


_leaving: set[asyncio.Task[None]] = set()  # presence marks being cleared (kept referenced until done)


def _left(task: asyncio.Task[None]) -> None:
    _leaving.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a failure here is harmless (see the stream's `finally`)


class TooLarge(Exception):
    pass


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refused (`TooLarge`) as soon as it passes ``limit`` bytes: never read whole first."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return bytes(body)


def _invalid(request: Request, status: int) -> HTMLResponse:
    return templates.TemplateResponse(request, "reply/invalid.html", {}, status_code=status, headers=PRIVATE)


async def _disconnected(request: Request) -> None:
    """Returns when the client has gone (the body of a GET is empty: what comes next is the disconnect)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _page(request: Request, token: str, chat: Chat, *, status: int = 200, error: str = "", text: str = "") -> Response:
    context = {"chat": chat, "base": f"/r/{token}", "max_text": rules.MAX_TEXT, "error": error, "text": text}
    return templates.TemplateResponse(request, "reply/chat.html", context, status_code=status, headers=PRIVATE)


router = APIRouter(include_in_schema=False)


@router.get("/r/{token}")
async def show(request: Request, token: str, parley: ParleyDep) -> Response:
    try:
        chat = await parley.reply_links.open(token)
    except LinkInvalid as exc:
        return _invalid(request, exc.status)
    return _page(request, token, chat)


@router.post("/r/{token}")
async def answer(request: Request, token: str, parley: ParleyDep) -> Response:
    try:
        chat = await parley.reply_links.open(token)
    except LinkInvalid as exc:
        return _invalid(request, exc.status)
    problem, status, headers = "", 200, dict(PRIVATE)
    text = ""
    try:
        text = rules.read_post(await read_limited(request, rules.MAX_POST_BYTES))
        client = request.client.host if request.client else ""
        message_id = await parley.reply_links.post(token, text, client)
    except TooLarge:
        problem, status = f"The message is larger than {rules.MAX_POST_BYTES} bytes.", 413
    except rules.PostError as exc:
        problem, status = f"Not sent: {exc.reason}.", 422
    except RateLimited as exc:
        problem, status = f"Not sent: {exc.reason}.", 429
        headers["Retry-After"] = str(exc.retry_after)
    except LinkInvalid as exc:  # expired meanwhile
        return _invalid(request, exc.status)
    if _wants_json(request):
        if problem:
            return JSONResponse({"detail": problem, "field": "text"}, status_code=status, headers=headers)
        mine = {"id": message_id, "mine": True, "text": text, "at": ""}
        return JSONResponse({"message": mine}, headers=headers)
    if problem:
        return _page(request, token, chat, status=status, error=problem, text=text)
    return RedirectResponse(f"/r/{token}", status_code=303, headers=PRIVATE)


@router.get("/r/{token}/events")
async def events(request: Request, token: str, parley: ParleyDep) -> Response:
    links, bus = parley.reply_links, parley.bus
    try:
        chat = await links.open(token)
    except LinkInvalid as exc:
        return Response("event: gone\ndata: {}\n\n", status_code=exc.status, media_type="text/event-stream")
    subscription = await bus.subscribe(0, False, accepts=chat.accepts)
    await links.present(chat.link_id, True)

    async def stream() -> AsyncIterator[str]:
        next_event: asyncio.Task[Event] | None = None
        # The page closing is noticed at once (replies then go by SMS), not at the next keep-alive.
        gone = asyncio.ensure_future(_disconnected(request))
        yield ": connected\n\n"
        try:
            while not gone.done():
                if next_event is None:
                    next_event = asyncio.ensure_future(subscription.queue.get())
                done, _ = await asyncio.wait(
                    {next_event, gone}, timeout=PRESENCE_RENEW, return_when=asyncio.FIRST_COMPLETED
                )
                if gone in done:
                    break
                if not done:
                    await links.present(chat.link_id, True)
                    yield ": keep-alive\n\n"
                    continue
                waiting = [next_event.result(), *subscription.waiting()]
                next_event = None
                shown = [m for event in waiting if (m := chat.shown_event(event)) is not None]
                if shown:
                    yield "".join(f"event: message\ndata: {json.dumps(m)}\n\n" for m in shown)
        finally:
            for task in (next_event, gone):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            bus.unsubscribe(subscription)
            # In a task of its own: a stream cancelled by the client's going would cancel an await here too.
            # Should it fail, the mark lapses by itself (`PRESENCE`).
            leaving = asyncio.ensure_future(links.present(chat.link_id, False))
            _leaving.add(leaving)
            leaving.add_done_callback(_left)

    headers = {**PRIVATE, "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.api_route("/r/{anything:path}", methods=["GET", "POST"])
async def elsewhere(request: Request, anything: str) -> Response:
    """Any other path under /r/ (a link cut short, or with more after it) is a link no longer valid."""
    return _invalid(request, 404)
