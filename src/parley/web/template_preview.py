"""The console's template preview: what an agent's WhatsApp template send would show, before it is sent.

The composer calls it with the session cookie and the ``X-CSRF-Token`` header (the API's ``POST
/api/v2/whatsapp/templates/preview`` takes Basic credentials only). The answer is the API's: ``{"text"}``, or
``{"error": {"field", "reason"}}`` with 422 (``field`` the exact part: ``template.variables``, …) or 403.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from parley.app_state import ParleyDep
from parley.services.errors import ServiceError
from parley.services.whatsapp_templates import TemplateRefused
from parley.web.page_router import page_router
from parley.web.security import ConsoleSession

router = page_router()


@router.post("/whatsapp/templates/preview")
async def preview(request: Request, session: ConsoleSession, parley: ParleyDep) -> JSONResponse:
    """JSON ``{"number": "+1555…", "template": {"name", "language", "variables": [...], "header_media"}}``."""
    try:
        asked = await request.json()
    except ValueError:
        asked = None
    if not isinstance(asked, dict) or not isinstance(asked.get("number"), str):
        reason = 'send {"number": ..., "template": {...}} as JSON'
        return JSONResponse({"error": {"field": "number", "reason": reason}}, status_code=422)
    try:
        text = await parley.whatsapp_templates.preview(session.user, asked["number"], asked.get("template"))
    except ServiceError as exc:
        field = exc.part if isinstance(exc, TemplateRefused) else exc.field
        return JSONResponse({"error": {"field": field, "reason": exc.reason}}, status_code=exc.status)
    return JSONResponse({"text": text})
