"""The admin page for WhatsApp message templates: the synced list, "Sync now", and a form to submit a new one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from parley.services.errors import ServiceError
from parley.web.admin_forms import form_fields, refused, saved
from parley.web.page_router import page_router
from parley.web.security import AdminSession
from parley.web.templating import field_errors, render

if TYPE_CHECKING:
    from parley.bootstrap import Parley

PAGE = "/admin/whatsapp-templates"
CATEGORIES = [("utility", "Utility"), ("marketing", "Marketing")]


def router(parley: Parley) -> APIRouter:
    templates = parley.whatsapp_templates
    pages = page_router(PAGE)

    async def page(
        request: Request,
        values: dict[str, Any],
        errors: dict[str, str],
        *,
        status: int = 200,
        synced: list[dict[str, Any]] | None = None,
    ) -> Response:
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

    @pages.get("")
    async def list_templates(request: Request, _: AdminSession) -> Response:
        return await page(request, {}, {})

    @pages.post("")
    async def create(request: Request, session: AdminSession) -> Response:
        form = await form_fields(request)
        try:
            await templates.create(
                session.user, form.get("number", ""), form.get("name", ""), form.get("language", ""),
                form.get("category", ""), form.get("body", ""), header_text=form.get("header_text"),
                footer=form.get("footer"), examples=form.get("examples"),
            )  # fmt: skip
        except ServiceError as exc:
            if exc.status not in (409, 422):
                raise refused(exc) from None
            return await page(request, form, field_errors(exc), status=422)
        return saved(request, PAGE)

    @pages.post("/sync")
    async def sync(request: Request, session: AdminSession) -> Response:
        try:
            results = await templates.sync_for(session.user)
        except ServiceError as exc:
            raise refused(exc) from None
        return await page(request, {}, {}, synced=[r.as_doc() for r in results])

    return pages
