"""The console's templates and the one way pages are rendered (the signed-in user and CSRF token included)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from parley.core.numbers import customer_ids
from parley.services.errors import ServiceError

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")

templates = Jinja2Templates(directory=str(TEMPLATES))


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC datetime in the PBX time zone (set per request in ``request.state.timezone``)."""
    if value is None:
        return ""
    return value.astimezone(_zone.get()).strftime(fmt)


class _Zone:
    """The PBX zone for the filter above; one PBX per deployment, so one process-wide value."""

    def __init__(self) -> None:
        self._zone = ZoneInfo("UTC")

    def get(self) -> ZoneInfo:
        return self._zone

    def set(self, name: str) -> None:
        if name != self._zone.key:
            try:
                self._zone = ZoneInfo(name)
            except (KeyError, ValueError):
                self._zone = ZoneInfo("UTC")


_zone = _Zone()
templates.env.filters["local"] = local_time


def customer(stored: str) -> str:
    """A stored customer as the console shows it: the number, or a WhatsApp contact's id (no number: issue 12 §2)."""
    number, external_id = customer_ids(stored)
    return number or f"WhatsApp user {external_id}"


templates.env.filters["customer"] = customer


def set_timezone(name: str) -> None:
    _zone.set(name)


def render(request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    """Render ``name`` with the session (``user``, ``csrf``) and ``htmx`` (a partial request) in context."""
    session = getattr(request.state, "session", None)
    ctx: dict[str, Any] = {
        "user": session.user if session else None,
        "csrf": session.csrf if session else request.cookies.get("parley_csrf", ""),
        "htmx": request.headers.get("HX-Request") == "true",
        "path": request.url.path,
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, ctx, status_code=status)


def field_errors(exc: ServiceError) -> dict[str, str]:
    """A service's refusal as {form field: message}; problems without a field go under ``""`` (the form)."""
    errors: dict[str, str] = {}
    for field, message in exc.problems():
        key = (field or "").split(".")[-1] if field else ""
        errors.setdefault(key, message)
    return errors
