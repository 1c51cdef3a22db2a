"""API keys in the console (issue 13 §2): users see and manage their own keys, administrators everyone's.

A new key's secret is shown once, on the page that answers the creating POST (never in a URL, never cached);
after that the page lists keys with their scopes, last use and expiry, and revokes them.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from parley.app_state import ParleyDep
from parley.core.api_keys import SCOPES
from parley.services.errors import ServiceError
from parley.web.page_router import page_router
from parley.web.security import ConsoleRefused, ConsoleSession
from parley.web.templating import field_errors, render, set_timezone

if TYPE_CHECKING:
    from parley.bootstrap import Parley
    from parley.services.directory import User

SCOPE_HINTS = {
    "send": "send messages, campaigns, lists, media",
    "read": "read messages, events, campaigns, lists",
    "conversations": "read and answer conversations",
    "admin": "administration (administrators' keys only)",
}


def expiry_from_form(value: str, timezone: str) -> datetime | None:
    """The end of the day ``value`` (YYYY-MM-DD) in the PBX's time zone; None when empty. Raises ServiceError."""
    if not value.strip():
        return None
    try:
        day = datetime.strptime(value.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise ServiceError(422, "a date as YYYY-MM-DD", "expires_at") from None
    return datetime.combine(day, time(23, 59, 59), ZoneInfo(timezone)).astimezone(UTC)


router = page_router()


async def _context(parley: Parley, user: User) -> dict[str, Any]:
    set_timezone((await parley.cache.config()).timezone)
    return {
        "keys": await parley.api_keys.list_(user),
        "scopes": [(scope, SCOPE_HINTS[scope]) for scope in SCOPES],
        "account_sid": await parley.api_keys.account_sid(),
        "errors": {},
        "values": {"scopes": ["send", "read"]},
        "created": None,
    }


@router.get("/api-keys")
async def index(request: Request, session: ConsoleSession, parley: ParleyDep) -> Response:
    return render(request, "api_keys/index.html", await _context(parley, session.user))


@router.post("/api-keys")
async def create(request: Request, session: ConsoleSession, parley: ParleyDep) -> Response:
    form = await request.form()
    name = str(form.get("name") or "")
    scopes = [str(s) for s in form.getlist("scopes")]
    expires = str(form.get("expires_at") or "")
    owner = str(form.get("user") or "").strip() or None
    values = {"name": name, "scopes": scopes, "expires_at": expires, "user": owner or ""}
    try:
        expires_at = expiry_from_form(expires, (await parley.cache.config()).timezone)
        created = await parley.api_keys.create(
            session.user, name=name, scopes=scopes, expires_at=expires_at, user=owner
        )
    except ServiceError as exc:
        if exc.status not in (403, 422):
            raise ConsoleRefused(exc.status, exc.reason) from None
        errors = field_errors(exc)
        if "user" in errors and not session.user.is_admin:  # the form has no such field: say it above the form
            errors[""] = errors.pop("user")
        ctx = {**await _context(parley, session.user), "errors": errors, "values": values}
        return render(request, "api_keys/index.html", ctx, status=422)
    answer = render(request, "api_keys/index.html", {**await _context(parley, session.user), "created": created.doc})
    answer.headers["Cache-Control"] = "no-store"  # the page holds the secret: not for the back button
    return answer


@router.post("/api-keys/{key_id}/revoke")
async def revoke(key_id: str, session: ConsoleSession, parley: ParleyDep) -> Response:
    try:
        await parley.api_keys.revoke(session.user, key_id)
    except ServiceError as exc:
        raise ConsoleRefused(exc.status, exc.reason) from None
    return RedirectResponse(f"/api-keys?revoked={quote(key_id)}", status_code=303)
