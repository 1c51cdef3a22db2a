"""The console's page for the LDAP user directory (/admin/directory): its settings, the last syncs, a sync button."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from parley.web.admin_forms import saved
from parley.web.page_router import page_router
from parley.web.security import AdminSession
from parley.web.templating import render

if TYPE_CHECKING:
    from parley.bootstrap import Parley


def router(parley: Parley) -> APIRouter:
    pages = page_router("/admin")

    async def page(request: Request, notice: str | None = None, status: int = 200) -> Response:
        config = await parley.directory.config()
        runs = await parley.directory.last_runs(5)
        return render(request, "admin/directory.html", {"config": config, "runs": runs, "notice": notice}, status)

    @pages.get("/directory")
    async def directory(request: Request, _: AdminSession) -> Response:
        return await page(request)

    @pages.post("/directory/sync")
    async def sync(request: Request, _: AdminSession) -> Response:
        # A sync of a few thousand entries takes seconds: the admin waits for its report, as with `parley directory
        # sync`. The lease keeps it from running beside a scheduled one.
        result = await parley.directory.run("console")
        if result.run_id is None:  # not run at all (busy, not configured): no report to show, say why
            return await page(request, f"Not synced: {result.reason}.", 409)
        return saved(request, "/admin/directory")

    return pages
