"""Admin page for sender IDs by destination country (/admin/sender-ids, issue 14 §3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import Response

from parley.app_state import ParleyDep
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


router = page_router("/admin")


def _rules(parley: Parley) -> SenderRuleAdmin:
    return SenderRuleAdmin(parley.db, parley.cache.invalidate)


async def _page(
    request: Request, parley: Parley, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    context = {"rules": await _rules(parley).list_rules(), "choices": CHOICES, "values": values, "errors": errors}
    return render(request, "admin/sender_ids.html", context, status=status)


@router.get("/sender-ids")
async def sender_ids(request: Request, _: AdminSession, parley: ParleyDep) -> Response:
    return await _page(request, parley, {"otherwise": "office_number"}, {})


@router.post("/sender-ids")
async def save_rule(request: Request, _: AdminSession, parley: ParleyDep) -> Response:
    form = await form_fields(request)
    rules = _rules(parley)
    problems = await rules.save(form.get("country", ""), form.get("registered", ""), form.get("otherwise", ""))
    if problems:
        errors: dict[str, str] = {}
        for problem in problems:
            field, _sep, message = problem.partition(": ")
            errors.setdefault(field, message)
        return await _page(request, parley, form, errors, status=422)
    return saved(request, "/admin/sender-ids")


@router.post("/sender-ids/{country}/delete")
async def delete_rule(request: Request, _: AdminSession, country: str, parley: ParleyDep) -> Response:
    await _rules(parley).delete(country)
    return saved(request, "/admin/sender-ids")
