"""Admin pages for bots, the Mail2SMS profile and the price list."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from parley.app_state import ParleyDep
from parley.services.errors import ServiceError
from parley.web.admin_forms import form_again, form_fields, refused, saved
from parley.web.page_router import page_router
from parley.web.security import AdminSession
from parley.web.templating import render

if TYPE_CHECKING:
    from parley.bootstrap import Parley


def _url(base: str, key: str) -> str:
    return f"{base}/{quote(key, safe='')}"


router = page_router("/admin")


async def _bots_page(
    request: Request, parley: Parley, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    bots = await parley.admin.bots(request.state.session.user)
    return render(request, "admin/bots.html", {"bots": bots, "values": values, "errors": errors, "url": _url}, status)


@router.get("/bots")
async def bots(request: Request, _: AdminSession, parley: ParleyDep) -> Response:
    return await _bots_page(request, parley, {}, {})


@router.post("/bots")
async def add_bot(request: Request, session: AdminSession, parley: ParleyDep) -> Response:
    form = await form_fields(request)
    try:
        await parley.admin.save_bot(session.user, form)
    except ServiceError as exc:
        bots = await parley.admin.bots(session.user)
        return form_again(request, "admin/bots.html", {"bots": bots, "url": _url}, exc, form)
    return saved(request, "/admin/bots")


@router.get("/bots/{name}")
async def edit_bot(request: Request, session: AdminSession, name: str, parley: ParleyDep) -> Response:
    bot = next((b for b in await parley.admin.bots(session.user) if b["name"] == name), None)
    if bot is None:
        return await _bots_page(request, parley, {}, {"": f"There is no bot {name}"}, 404)
    return render(request, "admin/bot.html", {"values": bot, "errors": {}, "editing": name, "url": _url})


@router.post("/bots/{name}")
async def update_bot(request: Request, session: AdminSession, name: str, parley: ParleyDep) -> Response:
    form = await form_fields(request)
    try:
        await parley.admin.save_bot(session.user, form, name)
    except ServiceError as exc:
        context = {"editing": name, "url": _url}
        return form_again(request, "admin/bot.html", context, exc, {**form, "name": name})
    return saved(request, "/admin/bots")


@router.post("/bots/{name}/delete")
async def delete_bot(request: Request, session: AdminSession, name: str, parley: ParleyDep) -> Response:
    try:
        await parley.admin.delete_bot(session.user, name)
    except ServiceError as exc:
        raise refused(exc) from None
    return saved(request, "/admin/bots")


@router.get("/mail2sms")
async def mail2sms(request: Request, session: AdminSession, parley: ParleyDep) -> Response:
    profile = await parley.admin.mail2sms(session.user)
    saved_now = request.query_params.get("saved") == "1"
    return render(
        request, "admin/mail2sms.html", {"profile": profile, "values": profile, "errors": {}, "saved": saved_now}
    )


@router.post("/mail2sms")
async def save_mail2sms(request: Request, session: AdminSession, parley: ParleyDep) -> Response:
    form = await form_fields(request)
    enabled = "enabled" in form
    admin = parley.admin
    try:
        await admin.save_mail2sms(session.user, enabled, form.get("password", ""), form.get("allowed_senders", ""))
    except ServiceError as exc:
        profile = await admin.mail2sms(session.user)
        context = {"profile": profile, "saved": False}
        values = {"enabled": enabled, "allowed_senders": form.get("allowed_senders", "")}
        return form_again(request, "admin/mail2sms.html", context, exc, values)
    return saved(request, "/admin/mail2sms?saved=1")


@router.get("/prices")
async def prices(request: Request, session: AdminSession, parley: ParleyDep, offset: int = 0) -> Response:
    page = await parley.admin.prices(session.user, offset)
    return render(request, "admin/prices.html", {"page": page, "values": {}, "errors": {}, "url": _url})


@router.post("/prices")
async def add_price(request: Request, session: AdminSession, parley: ParleyDep) -> Response:
    form = await form_fields(request)
    try:
        await parley.admin.save_price(session.user, form)
    except ServiceError as exc:
        page = await parley.admin.prices(session.user)
        return form_again(request, "admin/prices.html", {"page": page, "url": _url}, exc, form)
    return saved(request, "/admin/prices")


@router.get("/prices/{prefix}")
async def edit_price(request: Request, session: AdminSession, prefix: str, parley: ParleyDep) -> Response:
    try:
        price = await parley.admin.price(session.user, prefix)
    except ServiceError as exc:
        raise refused(exc) from None
    return render(request, "admin/price.html", {"values": price, "errors": {}, "editing": prefix, "url": _url})


@router.post("/prices/{prefix}")
async def update_price(request: Request, session: AdminSession, prefix: str, parley: ParleyDep) -> Response:
    form = await form_fields(request)
    try:
        await parley.admin.save_price(session.user, form, prefix)
    except ServiceError as exc:
        return form_again(request, "admin/price.html", {"editing": prefix, "url": _url}, exc, form)
    return saved(request, "/admin/prices")


@router.post("/prices/{prefix}/delete")
async def delete_price(request: Request, session: AdminSession, prefix: str, parley: ParleyDep) -> Response:
    try:
        await parley.admin.delete_price(session.user, prefix)
    except ServiceError as exc:
        raise refused(exc) from None
    return saved(request, "/admin/prices")
