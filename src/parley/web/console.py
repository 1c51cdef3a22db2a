"""Puts the console on the app: static assets, sign-in, every page's router, and its two error shapes."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from parley.routes import adopt
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


def install(app: FastAPI) -> None:
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

    adopt(app.router, auth_pages.router)
    adopt(
        app.router,
        inbox.router,
        send_page.router,
        campaign_pages.router,
        admin_pages.router,
        stats_pages.router,
        template_preview.router,
        api_key_pages.router,
        webhook_pages.router,
    )
