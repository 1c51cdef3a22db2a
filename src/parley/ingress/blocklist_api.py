"""The campaign blocklist in the native API (/api/v2/blocklist)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from parley.app_state import ParleyDep
from parley.ingress.api import CurrentUser


class BlockNumber(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str


router = APIRouter(prefix="/api/v2/blocklist", tags=["Blocklist"])


@router.get("")
async def list_blocked(
    user: CurrentUser,
    parley: ParleyDep,
    after: Annotated[str | None, Query(description="The last number of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Numbers campaigns skip: added by hand, or by the customer's own STOP."""
    return await parley.blocklist.list_(user, limit=limit, after=after)


@router.post("", status_code=201)
async def block(body: BlockNumber, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
    return await parley.blocklist.add(user, body.number)


@router.delete("/{number}", status_code=204)
async def unblock(number: str, user: CurrentUser, parley: ParleyDep) -> None:
    """Admins only."""
    await parley.blocklist.remove(user, number)
