"""The API's documentation — the OpenAPI document and its Swagger UI page — for administrators only (seed 004:
"API documentation is available to admins"). ``PARLEY_PUBLIC_DOCS=1`` opens both to everyone; `/healthz` stays open
for probes either way. A console session of an admin reads them too, so the page works from a signed-in browser."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from parley.app_state import ParleyDep
from parley.ingress.api_auth import current_user

OPENAPI_URL = "/api/v1/openapi.json"
DOCS_URL = "/api/v1/doc"


router = APIRouter(include_in_schema=False)


async def _allowed(request: Request, *, public: bool) -> None:
    """Everyone when the docs are public (PARLEY_PUBLIC_DOCS=1, read per request), else admins only."""
    if public:
        return
    user = await current_user(request)
    if not user.is_admin:
        raise HTTPException(403, "The API documentation is for administrators (PARLEY_PUBLIC_DOCS=1 opens it)")


@router.get(OPENAPI_URL)
async def openapi(request: Request, parley: ParleyDep) -> JSONResponse:
    await _allowed(request, public=parley.settings.public_docs)
    return JSONResponse(request.app.openapi())


@router.get(DOCS_URL)
async def docs(request: Request, parley: ParleyDep) -> HTMLResponse:
    await _allowed(request, public=parley.settings.public_docs)
    return get_swagger_ui_html(openapi_url=OPENAPI_URL, title="Parley API")
