"""Admin page for reply links (issue 14 §1): the company name their chat page shows, and how long links last."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from parley.app_state import ParleyDep
from parley.services.errors import ServiceError
from parley.web.admin_forms import form_again, form_fields, saved
from parley.web.page_router import page_router
from parley.web.security import AdminSession
from parley.web.templating import render

router = page_router("/admin")


@router.get("/reply-links")
async def show(request: Request, session: AdminSession, parley: ParleyDep) -> Response:
    values = await parley.reply_links.settings(session.user)
    context = {"values": values, "errors": {}, "saved": request.query_params.get("saved") == "1"}
    return render(request, "admin/reply_links.html", context)


@router.post("/reply-links")
async def save(request: Request, session: AdminSession, parley: ParleyDep) -> Response:
    form = await form_fields(request)
    links = parley.reply_links
    try:
        await links.save_settings(session.user, form.get("company_name", ""), form.get("reply_link_days", ""))
    except ServiceError as exc:
        return form_again(request, "admin/reply_links.html", {"saved": False}, exc, form)
    return saved(request, "/admin/reply-links?saved=1")
