"""The admin page for WhatsApp message templates: the synced list, "Sync now", and a form to submit a new one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import Response

from parley.app_state import ParleyDep
from parley.services.errors import ServiceError
from parley.web.admin_forms import form_fields, refused, saved
from parley.web.page_router import page_router
from parley.web.security import AdminSession
from parley.web.templating import field_errors, render

if TYPE_CHECKING:
    from parley.bootstrap import Parley

PAGE = "/admin/whatsapp-templates"
CATEGORIES = [("utility", "Utility"), ("marketing", "Marketing")]


router = page_router(PAGE)


async def _page(
    request: Request,
    parley: Parley,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    status: int = 200,
    synced: list[dict[str, Any]] | None = None,
) -> Response:
    templates = parley.whatsapp_templates
    user = request.state.session.user
    numbers = await templates.numbers()
    context = {
        "templates": await templates.list_(user),
        "numbers": [(n, n) for n in numbers],
        "categories": CATEGORIES,
        "values": {"language": "en_US", "category": "utility", **values},
        "errors": errors,
        "synced": synced,
    }
    return render(request, "admin/whatsapp_templates.html", context, status)


@router.get("")
async def list_templates(request: Request, _: AdminSession, parley: ParleyDep) -> Response:
    return await _page(request, parley, {}, {})


@router.post("")
async def create(request: Request, session: AdminSession, parley: ParleyDep) -> Response:
    form = await form_fields(request)
    try:
        await parley.whatsapp_templates.create(
            session.user, form.get("number", ""), form.get("name", ""), form.get("language", ""),
            form.get("category", ""), form.get("body", ""), header_text=form.get("header_text"),
            footer=form.get("footer"), examples=form.get("examples"),
        )  # fmt: skip
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise refused(exc) from None
        return await _page(request, parley, form, field_errors(exc), status=422)
    return saved(request, PAGE)


@router.post("/sync")
async def sync(request: Request, session: AdminSession, parley: ParleyDep) -> Response:
    try:
        results = await parley.whatsapp_templates.sync_for(session.user)
    except ServiceError as exc:
        raise refused(exc) from None
    return await _page(request, parley, {}, {}, synced=[r.as_doc() for r in results])
