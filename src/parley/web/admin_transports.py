"""Admin pages for transports: the list with live state; curl, SMPP, Twilio, Telnyx and WhatsApp forms; "send test"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from parley.app_state import ParleyDep
from parley.core.transport_specs import HTTP_CARRIERS, TRANSPORT_KINDS, TRANSPORT_ROLES
from parley.services.errors import ServiceError
from parley.web.admin_forms import form_again, form_fields, refused, saved
from parley.web.page_router import page_router
from parley.web.security import AdminSession
from parley.web.templating import field_errors, render

if TYPE_CHECKING:
    from parley.bootstrap import Parley

KINDS = TRANSPORT_KINDS


def transport_url(name: str) -> str:
    return f"/admin/transports/{quote(name, safe='')}"


def _form_values(transport: dict[str, Any]) -> dict[str, Any]:
    config = transport["config"]
    return {"name": transport["name"], "role": transport["role"], "id": transport["gateway_id"] or "", **config}


router = page_router("/admin/transports")


def _context(parley: Parley, kind: str, editing: str | None) -> dict[str, Any]:
    if kind == "whatsapp":
        roles = ["whatsapp"]
    elif kind in HTTP_CARRIERS:
        roles = ["carrier"]
    else:
        roles = [r for r in TRANSPORT_ROLES if r != "whatsapp" and (kind == "curl" or r != "curl")]
    return {
        "kind": kind,
        "editing": editing,
        "roles": [(r, r) for r in roles],
        "transport_url": transport_url,
        "public_base": parley.settings.public_base,
    }


@router.get("")
async def list_transports(request: Request, session: AdminSession, parley: ParleyDep) -> Response:
    rows = await parley.admin.transports.list_(session.user)
    return render(request, "admin/transports.html", {"transports": rows, "transport_url": transport_url})


@router.get("/status")
async def status(request: Request, session: AdminSession, parley: ParleyDep) -> Response:
    """The table alone: the list page polls it so that bind state stays current."""
    rows = await parley.admin.transports.list_(session.user)
    return render(request, "admin/_transport_rows.html", {"transports": rows, "transport_url": transport_url})


@router.get("/new")
async def new_transport(request: Request, _: AdminSession, parley: ParleyDep, kind: str = "curl") -> Response:
    kind = kind if kind in KINDS else "curl"
    role = {"curl": "curl", "whatsapp": "whatsapp"}.get(kind, "carrier")
    values = {"role": role, "port": 2775}
    return render(request, "admin/transport.html", {**_context(parley, kind, None), "values": values, "errors": {}})


@router.post("/new")
async def add_transport(request: Request, session: AdminSession, parley: ParleyDep) -> Response:
    form = await form_fields(request)
    kind = form.get("kind") if form.get("kind") in KINDS else "curl"
    try:
        name = await parley.admin.transports.save(session.user, form)
    except ServiceError as exc:
        return form_again(request, "admin/transport.html", _context(parley, str(kind), None), exc, form)
    return saved(request, transport_url(name))


@router.get("/{name}")
async def edit_transport(request: Request, session: AdminSession, name: str, parley: ParleyDep) -> Response:
    try:
        transport = await parley.admin.transports.get(session.user, name)
    except ServiceError as exc:
        raise refused(exc) from None
    ctx = {**_context(parley, transport["kind"], name), "transport": transport, "values": _form_values(transport)}
    return render(request, "admin/transport.html", {**ctx, "errors": {}, "test": None})


@router.post("/{name}")
async def update_transport(request: Request, session: AdminSession, name: str, parley: ParleyDep) -> Response:
    form = await form_fields(request)
    transports = parley.admin.transports
    try:
        transport = await transports.get(session.user, name)
    except ServiceError as exc:
        raise refused(exc) from None
    try:
        await transports.save(session.user, {**form, "kind": transport["kind"]}, name)
    except ServiceError as exc:
        ctx = {**_context(parley, transport["kind"], name), "transport": transport, "test": None}
        return form_again(request, "admin/transport.html", ctx, exc, {**form, "name": name})
    return saved(request, transport_url(name))


@router.post("/{name}/delete")
async def delete_transport(request: Request, session: AdminSession, name: str, parley: ParleyDep) -> Response:
    try:
        await parley.admin.transports.delete(session.user, name)
    except ServiceError as exc:
        raise refused(exc) from None
    return saved(request, "/admin/transports")


@router.post("/{name}/test")
async def send_test(request: Request, session: AdminSession, name: str, parley: ParleyDep) -> Response:
    form = await form_fields(request)
    transports = parley.admin.transports
    test_values = {"to": form.get("to", ""), "text": form.get("text", "")}
    try:
        transport = await transports.get(session.user, name)
    except ServiceError as exc:
        raise refused(exc) from None
    errors: dict[str, str] = {}
    outcome = None
    try:
        outcome = await transports.send_test(session.user, name, test_values["to"], test_values["text"])
    except ServiceError as exc:
        if exc.status != 422:
            raise refused(exc) from None
        errors = field_errors(exc)
    ctx = {"transport": transport, "test_values": test_values, "test_errors": errors, "test": outcome}
    status = 422 if errors else 200
    if request.headers.get("HX-Request") == "true":
        return render(request, "admin/_transport_test.html", {**ctx, "transport_url": transport_url}, status)
    page = {**_context(parley, transport["kind"], name), "values": _form_values(transport), "errors": {}}
    return render(request, "admin/transport.html", {**page, **ctx}, status)
