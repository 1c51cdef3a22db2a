"""The campaign blocklist: anyone adds a number; only administrators remove one (as `services.blocklists` rules)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from parley.app_state import ParleyDep
from parley.services.errors import ServiceError
from parley.web.page_router import page_router
from parley.web.security import ConsoleRefused, ConsoleSession
from parley.web.templating import field_errors, render, set_timezone

if TYPE_CHECKING:
    from parley.bootstrap import Parley
    from parley.services.directory import User

PAGE = 50


router = page_router()


async def _context(parley: Parley, user: User, after: str | None) -> dict[str, Any]:
    set_timezone((await parley.cache.config()).timezone)
    rows = await parley.blocklist.list_(user, limit=PAGE + 1, after=after)
    shown = rows[:PAGE]
    return {
        "blocked": shown,
        "after": after,
        "next": shown[-1]["number"] if len(rows) > PAGE else None,
        "errors": {},
        "values": {},
    }


@router.get("/blocklist")
async def index(request: Request, session: ConsoleSession, parley: ParleyDep, after: str | None = None) -> Response:
    return render(request, "blocklist/index.html", await _context(parley, session.user, after))


@router.post("/blocklist")
async def add(request: Request, session: ConsoleSession, parley: ParleyDep) -> Response:
    form = await request.form()
    number = str(form.get("number") or "").strip()
    try:
        added = await parley.blocklist.add(session.user, number)
    except ServiceError as exc:
        if exc.status != 422:
            raise ConsoleRefused(exc.status, exc.reason) from None
        context = await _context(parley, session.user, None)
        ctx = {**context, "errors": field_errors(exc), "values": {"number": number}}
        return render(request, "blocklist/index.html", ctx, status=422)
    return RedirectResponse(f"/blocklist?added={quote(added['number'])}", status_code=303)


@router.post("/blocklist/remove")
async def remove(request: Request, session: ConsoleSession, parley: ParleyDep) -> Response:
    form = await request.form()
    number = str(form.get("number") or "")
    try:
        await parley.blocklist.remove(session.user, number)
    except ServiceError as exc:
        raise ConsoleRefused(exc.status, exc.reason) from None
    after = form.get("after")
    back = f"/blocklist?after={quote(after)}" if isinstance(after, str) and after else "/blocklist"
    return RedirectResponse(back, status_code=303)
