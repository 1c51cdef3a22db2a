"""The campaign blocklist in the native API (/api/v2/blocklist)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from parley.ingress.api import CurrentUser
from parley.services.blocklists import Blocklist


class BlockNumber(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str


def router(blocklist: Blocklist) -> APIRouter:
    api = APIRouter(prefix="/api/v2/blocklist", tags=["Blocklist"])

    @api.get("")
    async def list_blocked(
        user: CurrentUser,
        after: Annotated[str | None, Query(description="The last number of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        """Numbers campaigns skip: added by hand, or by the customer's own STOP."""
        return await blocklist.list_(user, limit=limit, after=after)

    @api.post("", status_code=201)
    async def block(body: BlockNumber, user: CurrentUser) -> dict[str, Any]:
        return await blocklist.add(user, body.number)

    @api.delete("/{number}", status_code=204)
    async def unblock(number: str, user: CurrentUser) -> None:
        """Admins only."""
        await blocklist.remove(user, number)

    return api
