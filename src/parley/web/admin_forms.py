"""What the admin pages share: reading a submitted form, answering after a save, turning refusals into pages."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from parley.services.errors import ServiceError
from parley.web.security import CSRF_FIELD, ConsoleRefused
from parley.web.templating import field_errors, render


async def form_fields(request: Request) -> dict[str, str]:
    """The submitted fields as text (the CSRF token left out); a repeated field keeps its last value."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}


def saved(request: Request, url: str) -> Response:
    """Redirect after a successful POST (for htmx, a client-side redirect that keeps history right)."""
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def form_again(
    request: Request, template: str, context: dict[str, Any], exc: ServiceError, values: dict[str, Any]
) -> Response:
    """A refused form shown again with the problems next to their fields (422), or an error page for the rest."""
    if exc.status != 422:
        raise ConsoleRefused(exc.status, exc.reason)
    return render(request, template, {**context, "errors": field_errors(exc), "values": values}, status=422)


def refused(exc: ServiceError) -> ConsoleRefused:
    return ConsoleRefused(exc.status, exc.reason)
