"""The console's page for the LDAP user directory (/admin/directory): its settings, the last syncs, a sync button."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from parley.web.admin_forms import saved
from parley.web.security import AdminSession
from parley.web.templating import render

if TYPE_CHECKING:
    from parley.bootstrap import Parley


def router(parley: Parley) -> APIRouter:
    pages = APIRouter(prefix="/admin", include_in_schema=False)

    @pages.get("/directory")
    async def directory(request: Request, _: AdminSession) -> Response:
        config = await parley.directory.config()
        runs = await parley.directory.last_runs(5)
        return render(request, "admin/directory.html", {"config": config, "runs": runs})

    @pages.post("/directory/sync")
    async def sync(request: Request, _: AdminSession) -> Response:
        # A sync of a few thousand entries takes seconds: the admin waits for its report, as with `parley directory
        # sync`. The lease keeps it from running beside a scheduled one.
        await parley.directory.run("console")
        return saved(request, "/admin/directory")

    return pages
