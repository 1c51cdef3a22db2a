"""The console's page for the LDAP user directory (/admin/directory): its settings, the last syncs, a sync button."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import Response

from parley.app_state import ParleyDep
from parley.web.admin_forms import saved
from parley.web.page_router import page_router
from parley.web.security import AdminSession
from parley.web.templating import render

if TYPE_CHECKING:
    from parley.bootstrap import Parley


router = page_router("/admin")


async def _page(request: Request, parley: Parley, notice: str | None = None, status: int = 200) -> Response:
    config = await parley.directory.config()
    runs = await parley.directory.last_runs(5)
    return render(request, "admin/directory.html", {"config": config, "runs": runs, "notice": notice}, status)


@router.get("/directory")
async def directory(request: Request, _: AdminSession, parley: ParleyDep) -> Response:
    return await _page(request, parley)


@router.post("/directory/sync")
async def sync(request: Request, _: AdminSession, parley: ParleyDep) -> Response:
    # A sync of a few thousand entries takes seconds: the admin waits for its report, as with `parley directory
    # sync`. The lease keeps it from running beside a scheduled one.
    result = await parley.directory.run("console")
    if result.run_id is None:  # not run at all (busy, not configured): no report to show, say why
        return await _page(request, parley, f"Not synced: {result.reason}.", 409)
    return saved(request, "/admin/directory")
