"""(being written) The shared inbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from parley.web.security import ConsoleSession
from parley.web.templating import render

if TYPE_CHECKING:
    from parley.bootstrap import Parley


def router(parley: Parley) -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    @pages.get("/inbox")
    async def inbox(request: Request, _: ConsoleSession) -> Response:
        return render(request, "error.html", {"status": 200, "message": "The inbox is being written."})

    return pages
