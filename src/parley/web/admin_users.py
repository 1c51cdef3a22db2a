"""Admin pages for users and services (/admin/users, /admin/services)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from parley.app_state import ParleyDep
from parley.core.licenses import names as license_names
from parley.core.provisioning_specs import ROLES
from parley.core.sender_id import make_sender_id
from parley.core.sender_rules import name_warnings
from parley.services.errors import ServiceError
from parley.web.admin_forms import form_again, form_fields, refused, saved
from parley.web.page_router import page_router
from parley.web.security import AdminSession
from parley.web.templating import render

router = page_router("/admin")
USER_FORM = {"licenses": [(n, n) for n in license_names()], "roles": [(r, r) for r in ROLES]}


@router.get("/users")
async def users(request: Request, session: AdminSession, parley: ParleyDep, offset: int = 0) -> Response:
    page = await parley.admin.users(session.user, offset)
    return render(request, "admin/users.html", {"page": page})


@router.get("/users/new")
async def new_user(request: Request, _: AdminSession) -> Response:
    values = {"license": "basic", "role": "user", "sms_package": 200}
    return render(request, "admin/user.html", {**USER_FORM, "editing": None, "values": values, "errors": {}})


@router.post("/users/new")
async def create_user(request: Request, session: AdminSession, parley: ParleyDep) -> Response:
    form = await form_fields(request)
    try:
        await parley.admin.save_user(session.user, form)
    except ServiceError as exc:
        return form_again(request, "admin/user.html", {**USER_FORM, "editing": None}, exc, form)
    return saved(request, "/admin/users")


@router.get("/users/{extension}")
async def edit_user(request: Request, session: AdminSession, extension: str, parley: ParleyDep) -> Response:
    try:
        values = await parley.admin.user(session.user, extension)
    except ServiceError as exc:
        raise refused(exc) from None
    # Issue 14 §3: a sender ID that is a given name may be filtered as phishing (Italy, seed 001).
    warnings = name_warnings(make_sender_id(str(values.get("name", ""))), (await parley.cache.config()).sender_rules)
    context = {**USER_FORM, "editing": extension, "values": values, "errors": {}, "sender_warnings": warnings}
    return render(request, "admin/user.html", context)


@router.post("/users/{extension}")
async def update_user(request: Request, session: AdminSession, extension: str, parley: ParleyDep) -> Response:
    form = await form_fields(request)
    try:
        await parley.admin.save_user(session.user, form, extension)
    except ServiceError as exc:
        context = {**USER_FORM, "editing": extension}
        return form_again(request, "admin/user.html", context, exc, {**form, "extension": extension})
    if extension == session.user.extension:  # a new password of one's own ends the *other* sessions
        await parley.sessions.keep(session)
    return saved(request, "/admin/users")


@router.post("/users/{extension}/delete")
async def delete_user(request: Request, session: AdminSession, extension: str, parley: ParleyDep) -> Response:
    try:
        await parley.admin.delete_user(session.user, extension)
    except ServiceError as exc:
        raise refused(exc) from None
    return saved(request, "/admin/users")


@router.get("/services")
async def services(request: Request, session: AdminSession, parley: ParleyDep, offset: int = 0) -> Response:
    page = await parley.admin.services(session.user, offset)
    return render(request, "admin/services.html", {"page": page})


@router.get("/services/new")
async def new_service(request: Request, _: AdminSession) -> Response:
    return render(request, "admin/service.html", {"editing": None, "values": {}, "errors": {}})


@router.post("/services/new")
async def create_service(request: Request, session: AdminSession, parley: ParleyDep) -> Response:
    form = await form_fields(request)
    try:
        await parley.admin.save_service(session.user, form)
    except ServiceError as exc:
        return form_again(request, "admin/service.html", {"editing": None}, exc, form)
    return saved(request, "/admin/services")


@router.get("/services/{name}")
async def edit_service(request: Request, session: AdminSession, name: str, parley: ParleyDep) -> Response:
    try:
        service = await parley.admin.service(session.user, name)
    except ServiceError as exc:
        raise refused(exc) from None
    values = {
        **service,
        "static_members": ", ".join(service["static_members"]),
        "dynamic_members": ", ".join(service["dynamic_members"]),
    }
    return render(request, "admin/service.html", {"editing": name, "values": values, "errors": {}})


@router.post("/services/{name}")
async def update_service(request: Request, session: AdminSession, name: str, parley: ParleyDep) -> Response:
    form = await form_fields(request)
    try:
        await parley.admin.save_service(session.user, form, name)
    except ServiceError as exc:
        return form_again(request, "admin/service.html", {"editing": name}, exc, form)
    return saved(request, "/admin/services")


@router.post("/services/{name}/delete")
async def delete_service(request: Request, session: AdminSession, name: str, parley: ParleyDep) -> Response:
    try:
        await parley.admin.delete_service(session.user, name)
    except ServiceError as exc:
        raise refused(exc) from None
    return saved(request, "/admin/services")
