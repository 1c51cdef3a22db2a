"""Admin pages for users and services (/admin/users, /admin/services)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from parley.core.licenses import names as license_names
from parley.core.provisioning import ROLES
from parley.core.sender_id import make_sender_id
from parley.core.sender_rules import name_warnings
from parley.services.errors import ServiceError
from parley.web.admin_forms import form_again, form_fields, refused, saved
from parley.web.page_router import page_router
from parley.web.security import AdminSession
from parley.web.templating import render

if TYPE_CHECKING:
    from parley.bootstrap import Parley


def router(parley: Parley) -> APIRouter:
    admin = parley.admin
    pages = page_router("/admin")
    user_form = {"licenses": [(n, n) for n in license_names()], "roles": [(r, r) for r in ROLES]}

    @pages.get("/users")
    async def users(request: Request, session: AdminSession, offset: int = 0) -> Response:
        page = await admin.users(session.user, offset)
        return render(request, "admin/users.html", {"page": page})

    @pages.get("/users/new")
    async def new_user(request: Request, _: AdminSession) -> Response:
        values = {"license": "basic", "role": "user", "sms_package": 200}
        return render(request, "admin/user.html", {**user_form, "editing": None, "values": values, "errors": {}})

    @pages.post("/users/new")
    async def create_user(request: Request, session: AdminSession) -> Response:
        form = await form_fields(request)
        try:
            await admin.save_user(session.user, form)
        except ServiceError as exc:
            return form_again(request, "admin/user.html", {**user_form, "editing": None}, exc, form)
        return saved(request, "/admin/users")

    @pages.get("/users/{extension}")
    async def edit_user(request: Request, session: AdminSession, extension: str) -> Response:
        try:
            values = await admin.user(session.user, extension)
        except ServiceError as exc:
            raise refused(exc) from None
        # Issue 14 §3: a sender ID that is a given name may be filtered as phishing (Italy, seed 001).
        warnings = name_warnings(
            make_sender_id(str(values.get("name", ""))), (await parley.cache.config()).sender_rules
        )
        context = {**user_form, "editing": extension, "values": values, "errors": {}, "sender_warnings": warnings}
        return render(request, "admin/user.html", context)

    @pages.post("/users/{extension}")
    async def update_user(request: Request, session: AdminSession, extension: str) -> Response:
        form = await form_fields(request)
        try:
            await admin.save_user(session.user, form, extension)
        except ServiceError as exc:
            context = {**user_form, "editing": extension}
            return form_again(request, "admin/user.html", context, exc, {**form, "extension": extension})
        if extension == session.user.extension:  # a new password of one's own ends the *other* sessions
            await parley.sessions.keep(session)
        return saved(request, "/admin/users")

    @pages.post("/users/{extension}/delete")
    async def delete_user(request: Request, session: AdminSession, extension: str) -> Response:
        try:
            await admin.delete_user(session.user, extension)
        except ServiceError as exc:
            raise refused(exc) from None
        return saved(request, "/admin/users")

    @pages.get("/services")
    async def services(request: Request, session: AdminSession, offset: int = 0) -> Response:
        page = await admin.services(session.user, offset)
        return render(request, "admin/services.html", {"page": page})

    @pages.get("/services/new")
    async def new_service(request: Request, _: AdminSession) -> Response:
        return render(request, "admin/service.html", {"editing": None, "values": {}, "errors": {}})

    @pages.post("/services/new")
    async def create_service(request: Request, session: AdminSession) -> Response:
        form = await form_fields(request)
        try:
            await admin.save_service(session.user, form)
        except ServiceError as exc:
            return form_again(request, "admin/service.html", {"editing": None}, exc, form)
        return saved(request, "/admin/services")

    @pages.get("/services/{name}")
    async def edit_service(request: Request, session: AdminSession, name: str) -> Response:
        try:
            service = await admin.service(session.user, name)
        except ServiceError as exc:
            raise refused(exc) from None
        values = {
            **service,
            "static_members": ", ".join(service["static_members"]),
            "dynamic_members": ", ".join(service["dynamic_members"]),
        }
        return render(request, "admin/service.html", {"editing": name, "values": values, "errors": {}})

    @pages.post("/services/{name}")
    async def update_service(request: Request, session: AdminSession, name: str) -> Response:
        form = await form_fields(request)
        try:
            await admin.save_service(session.user, form, name)
        except ServiceError as exc:
            return form_again(request, "admin/service.html", {"editing": name}, exc, form)
        return saved(request, "/admin/services")

    @pages.post("/services/{name}/delete")
    async def delete_service(request: Request, session: AdminSession, name: str) -> Response:
        try:
            await admin.delete_service(session.user, name)
        except ServiceError as exc:
            raise refused(exc) from None
        return saved(request, "/admin/services")

    return pages
