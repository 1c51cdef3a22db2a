"""Admin page for sender IDs by destination country (/admin/sender-ids, issue 14 §3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from parley.core.sender_rules import OTHERWISE
from parley.services.sender_rules import SenderRuleAdmin
from parley.web.admin_forms import form_fields, saved
from parley.web.page_router import page_router
from parley.web.security import AdminSession
from parley.web.templating import render

if TYPE_CHECKING:
    from parley.bootstrap import Parley

LABELS = {"office_number": "send from the user's office number", "refuse": "refuse the message"}
CHOICES = [(k, LABELS[k]) for k in OTHERWISE]  # the form offers exactly the rule's choices


def router(parley: Parley) -> APIRouter:
    rules = SenderRuleAdmin(parley.db, parley.cache.invalidate)
    pages = page_router("/admin")

    async def page(request: Request, values: dict[str, str], errors: dict[str, str], status: int = 200) -> Response:
        context = {"rules": await rules.list_rules(), "choices": CHOICES, "values": values, "errors": errors}
        return render(request, "admin/sender_ids.html", context, status=status)

    @pages.get("/sender-ids")
    async def sender_ids(request: Request, _: AdminSession) -> Response:
        return await page(request, {"otherwise": "office_number"}, {})

    @pages.post("/sender-ids")
    async def save_rule(request: Request, _: AdminSession) -> Response:
        form = await form_fields(request)
        problems = await rules.save(form.get("country", ""), form.get("registered", ""), form.get("otherwise", ""))
        if problems:
            errors: dict[str, str] = {}
            for problem in problems:
                field, _sep, message = problem.partition(": ")
                errors.setdefault(field, message)
            return await page(request, form, errors, status=422)
        return saved(request, "/admin/sender-ids")

    @pages.post("/sender-ids/{country}/delete")
    async def delete_rule(request: Request, _: AdminSession, country: str) -> Response:
        await rules.delete(country)
        return saved(request, "/admin/sender-ids")

    return pages
