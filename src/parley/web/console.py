"""Puts the console on the app: static assets, sign-in, every page's router, and its two error shapes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from parley.routes import adopt, routes_of
from parley.web import (
    admin_pages,
    api_key_pages,
    auth_pages,
    campaign_pages,
    inbox,
    send_page,
    stats_pages,
    template_preview,
    webhook_pages,
)
from parley.web.security import ConsoleRefused, ConsoleSession, SignInRequired, sign_in_redirect
from parley.web.templating import STATIC, render

if TYPE_CHECKING:
    from parley.bootstrap import Parley


def install(app: FastAPI, parley: Parley) -> None:
    app.state.sessions = parley.sessions
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, exc: SignInRequired) -> Response:
        return sign_in_redirect(request, exc)

    @app.exception_handler(ConsoleRefused)
    async def refused(request: Request, exc: ConsoleRefused) -> Response:
        if request.headers.get("HX-Request") == "true":
            notice = render(request, "_notice.html", {"message": exc.message, "kind": "error"})
            notice.headers.update({"HX-Retarget": "#notice", "HX-Reswap": "innerHTML"})
            return notice
        return render(request, "error.html", {"status": exc.status, "message": exc.message}, status=exc.status)

    @app.get("/", include_in_schema=False)
    async def home(_: ConsoleSession) -> Response:
        return RedirectResponse("/inbox", status_code=303)

    adopt(app.router, routes_of(auth_pages))
    adopt(
        app.router,
        routes_of(inbox, parley),
        routes_of(send_page, parley),
        routes_of(campaign_pages, parley),
        routes_of(admin_pages, parley),
        routes_of(stats_pages, parley),
        routes_of(template_preview, parley),
        routes_of(api_key_pages, parley),
        routes_of(webhook_pages, parley),
    )
