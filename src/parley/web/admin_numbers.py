"""Admin pages for company numbers: the list, adding one, and the configuration screen (seed 002)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import available_timezones

from fastapi import Request
from fastapi.responses import Response

from parley.app_state import ParleyDep
from parley.core.hours import DAY_NAMES
from parley.services.errors import ServiceError
from parley.services.numbers import NumberError
from parley.web import number_form
from parley.web.admin_forms import form_again, form_fields, refused, saved
from parley.web.page_router import page_router
from parley.web.security import AdminSession
from parley.web.templating import render

if TYPE_CHECKING:
    from parley.bootstrap import Parley

TIMEZONES = sorted(available_timezones())


def number_url(number: str) -> str:
    return f"/admin/numbers/{quote(number, safe='')}"


router = page_router("/admin/numbers")


async def _screen(
    request: Request,
    parley: Parley,
    number: dict[str, Any],
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    context = {
        "number": number,
        "values": values,
        "errors": errors,
        "choices": await parley.admin.choices(request.state.session.user),
        "timezones": TIMEZONES,
        "condition_types": number_form.CONDITION_TYPES,
        "days": DAY_NAMES,
        "action_url": number_url(number["number"]),
        "saved": request.query_params.get("saved") == "1",
    }
    template = "admin/_number_form.html" if request.headers.get("HX-Request") == "true" else "admin/number.html"
    return render(request, template, context, status=status)


@router.get("")
async def list_numbers(request: Request, session: AdminSession, parley: ParleyDep, offset: int = 0) -> Response:
    page = await parley.admin.numbers(session.user, offset)
    return render(request, "admin/numbers.html", {"page": page, "number_url": number_url})


@router.get("/new")
async def new_number(request: Request, session: AdminSession, parley: ParleyDep) -> Response:
    choices = await parley.admin.choices(session.user)
    context = {"services": choices["services"], "values": {"sms": "on"}, "errors": {}}
    return render(request, "admin/number_new.html", context)


@router.post("/new")
async def add_number(request: Request, session: AdminSession, parley: ParleyDep) -> Response:
    form = await form_fields(request)
    try:
        number = await parley.admin.add_number(session.user, form)
    except ServiceError as exc:
        choices = await parley.admin.choices(session.user)
        return form_again(request, "admin/number_new.html", {"services": choices["services"]}, exc, form)
    return saved(request, number_url(number))


@router.get("/{number}")
async def configure_form(request: Request, session: AdminSession, number: str, parley: ParleyDep) -> Response:
    try:
        view = await parley.numbers.get(session.user, number)
    except ServiceError as exc:
        raise refused(exc) from None
    zone = (await parley.cache.config()).timezone
    values = number_form.from_settings(view["linked_service"], view["settings"], zone)
    return await _screen(request, parley, view, values, {})


@router.post("/{number}")
async def configure(request: Request, session: AdminSession, number: str, parley: ParleyDep) -> Response:
    form = await request.form()
    values = number_form.from_form(form)
    op = form.get("op")
    try:
        view = await parley.numbers.get(session.user, number)
        if isinstance(op, str) and op != "save":
            return await _screen(request, parley, view, number_form.edit(values, op), {})
        await parley.numbers.configure(session.user, number, number_form.to_settings(values))
    except NumberError as exc:
        if exc.status != 422:
            raise refused(exc) from None
        return await _screen(request, parley, view, values, number_form.problem_fields(exc.all), status=422)
    except ServiceError as exc:
        raise refused(exc) from None
    return saved(request, number_url(number) + "?saved=1")


@router.post("/{number}/delete")
async def delete_number(request: Request, session: AdminSession, number: str, parley: ParleyDep) -> Response:
    try:
        await parley.admin.delete_number(session.user, number)
    except ServiceError as exc:
        raise refused(exc) from None
    return saved(request, "/admin/numbers")
