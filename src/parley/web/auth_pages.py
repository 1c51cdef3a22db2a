"""Sign-in and sign-out pages."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from parley.app_state import ParleyDep
from parley.services.errors import ServiceError
from parley.services.sessions import IDLE_LIFETIME, SignInRefused
from parley.web.security import SESSION_COOKIE, ConsoleSession, safe_next, same_token
from parley.web.templating import field_errors, render

LOGIN_CSRF_COOKIE = "parley_csrf"


router = APIRouter(include_in_schema=False)


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", {"next": safe_next(next), "csrf": token, "errors": {}, "values": {}})
    _set_login_csrf(request, response, token)
    return response


@router.post("/login")
async def login(
    request: Request,
    parley: ParleyDep,
    extension: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    sessions = parley.sessions
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    context: dict[str, object] = {"next": safe_next(next), "csrf": expected, "values": {"extension": extension}}
    if not expected or not same_token(csrf, expected):
        errors = {"": "This sign-in form is out of date: please try again."}
        return _login_again(request, context, errors, 403)
    address = request.client.host if request.client else "unknown"
    try:
        session = await sessions.sign_in(extension, password, address)
    except SignInRefused as exc:
        response = _login_again(request, context, {"password": exc.reason}, exc.status)
        if exc.retry_after:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except ServiceError as exc:
        return _login_again(request, context, field_errors(exc), 422)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=int(IDLE_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_is_tls(request),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, session: ConsoleSession, parley: ParleyDep) -> Response:
    await parley.sessions.sign_out(session.token)
    response: Response = RedirectResponse("/login", status_code=303)
    if request.headers.get("HX-Request") == "true":
        response = Response(status_code=200, headers={"HX-Redirect": "/login"})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _is_tls(request: Request) -> bool:
    """Served over TLS, directly or behind a proxy that says so."""
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").split(",")[0] == "https"


def _set_login_csrf(request: Request, response: Response, token: str) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=_is_tls(request), path="/login")


def _login_again(request: Request, context: dict[str, object], errors: dict[str, str], status: int) -> Response:
    token = str(context["csrf"]) or secrets.token_urlsafe(24)
    response = render(request, "login.html", {**context, "csrf": token, "errors": errors}, status=status)
    _set_login_csrf(request, response, token)
    return response
