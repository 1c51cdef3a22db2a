"""The router every console page is declared on (the sign-in pages and the reply chat have their own)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request


def page_router(prefix: str = "") -> APIRouter:
    """Pages are not part of the API's schema, and each closes the uploads its form parsed."""
    return APIRouter(prefix=prefix, include_in_schema=False, dependencies=[Depends(_close_form)])


async def _close_form(request: Request) -> AsyncIterator[None]:
    """Close the uploads a page's form parsed (spooled temporary files): FastAPI closes only declared forms."""
    try:
        yield
    finally:
        await request.close()
