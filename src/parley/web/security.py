"""Who is using the console: the session cookie, CSRF on every unsafe request, and the way back to sign-in."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from parley.app_state import parley_of
from parley.services.sessions import Session

SESSION_COOKIE = "parley_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ConsoleRefused(Exception):
    """A console request that cannot be done: shown as a page, or as a notice for htmx requests."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInRequired(Exception):
    """No valid session: send the browser to sign-in, then back to ``next_url``."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def _where_from(request: Request) -> str:
    """The page to come back to: for htmx fragments, the page the user was on, not the fragment."""
    current = request.headers.get("HX-Current-URL")
    if current:
        parts = urlsplit(current)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def safe_next(value: str | None) -> str:
    """Only same-site paths: never an open redirect to another host."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def sign_in_redirect(request: Request, exc: SignInRequired) -> Response:
    target = f"/login?next={quote(safe_next(exc.next_url), safe='/')}"
    if request.headers.get("HX-Request") == "true":
        # 401, not 200: htmx follows HX-Redirect on any status, and a form that clears itself after a
        # successful request (the composer) keeps what was typed, so the draft survives the sign-in.
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _csrf_ok(request: Request, session: Session) -> bool:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    return given is not None and same_token(given, session.csrf)


def same_token(given: str, expected: str) -> bool:
    """Constant-time comparison of bytes: `hmac.compare_digest` refuses non-ASCII str with a TypeError (a 500)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


async def console_session(request: Request) -> Session:
    sessions = parley_of(request).sessions
    session = await sessions.resolve(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise SignInRequired(_where_from(request))
    if request.method not in SAFE_METHODS and not await _csrf_ok(request, session):
        raise ConsoleRefused(403, "The form's security token is missing or out of date: reload the page")
    request.state.session = session
    return session


async def admin_session(session: Annotated[Session, Depends(console_session)]) -> Session:
    if not session.user.is_admin:
        raise ConsoleRefused(403, "Administrators only")
    return session


ConsoleSession = Annotated[Session, Depends(console_session)]
AdminSession = Annotated[Session, Depends(admin_session)]
