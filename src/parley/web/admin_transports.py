"""Admin pages for transports: the list with live state; curl, SMPP, Twilio, Telnyx and WhatsApp forms; "send test"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

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


def router(parley: Parley) -> APIRouter:
    transports = parley.admin.transports
    pages = page_router("/admin/transports")

    def context(kind: str, editing: str | None) -> dict[str, Any]:
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

    @pages.get("")
    async def list_transports(request: Request, session: AdminSession) -> Response:
        rows = await transports.list_(session.user)
        return render(request, "admin/transports.html", {"transports": rows, "transport_url": transport_url})

    @pages.get("/status")
    async def status(request: Request, session: AdminSession) -> Response:
        """The table alone: the list page polls it so that bind state stays current."""
        rows = await transports.list_(session.user)
        return render(request, "admin/_transport_rows.html", {"transports": rows, "transport_url": transport_url})

    @pages.get("/new")
    async def new_transport(request: Request, _: AdminSession, kind: str = "curl") -> Response:
        kind = kind if kind in KINDS else "curl"
        role = {"curl": "curl", "whatsapp": "whatsapp"}.get(kind, "carrier")
        values = {"role": role, "port": 2775}
        return render(request, "admin/transport.html", {**context(kind, None), "values": values, "errors": {}})

    @pages.post("/new")
    async def add_transport(request: Request, session: AdminSession) -> Response:
        form = await form_fields(request)
        kind = form.get("kind") if form.get("kind") in KINDS else "curl"
        try:
            name = await transports.save(session.user, form)
        except ServiceError as exc:
            return form_again(request, "admin/transport.html", context(str(kind), None), exc, form)
        return saved(request, transport_url(name))

    @pages.get("/{name}")
    async def edit_transport(request: Request, session: AdminSession, name: str) -> Response:
        try:
            transport = await transports.get(session.user, name)
        except ServiceError as exc:
            raise refused(exc) from None
        ctx = {**context(transport["kind"], name), "transport": transport, "values": _form_values(transport)}
        return render(request, "admin/transport.html", {**ctx, "errors": {}, "test": None})

    @pages.post("/{name}")
    async def update_transport(request: Request, session: AdminSession, name: str) -> Response:
        form = await form_fields(request)
        try:
            transport = await transports.get(session.user, name)
        except ServiceError as exc:
            raise refused(exc) from None
        try:
            await transports.save(session.user, {**form, "kind": transport["kind"]}, name)
        except ServiceError as exc:
            ctx = {**context(transport["kind"], name), "transport": transport, "test": None}
            return form_again(request, "admin/transport.html", ctx, exc, {**form, "name": name})
        return saved(request, transport_url(name))

    @pages.post("/{name}/delete")
    async def delete_transport(request: Request, session: AdminSession, name: str) -> Response:
        try:
            await transports.delete(session.user, name)
        except ServiceError as exc:
            raise refused(exc) from None
        return saved(request, "/admin/transports")

    @pages.post("/{name}/test")
    async def send_test(request: Request, session: AdminSession, name: str) -> Response:
        form = await form_fields(request)
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
        page = {**context(transport["kind"], name), "values": _form_values(transport), "errors": {}}
        return render(request, "admin/transport.html", {**page, **ctx}, status)

    return pages
