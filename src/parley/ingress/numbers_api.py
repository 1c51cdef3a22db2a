"""Company numbers and their conversation settings in the native API (admins only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from parley.app_state import ParleyDep
from parley.ingress.api import CurrentUser

SETTINGS_EXAMPLE = {
    "linked_service": "Support",
    "routing": {"type": "group", "target": "Support"},
    "out_of_hours": {"type": "bot", "target": "Night bot"},
    "hours": {"timezone": "America/New_York", "rules": [{"days": ["mon-fri"], "ranges": ["09:00-17:00"]}]},
    "actions": [
        {
            "name": "Nudge",
            "conditions": [{"type": "no_reply", "after": "5m"}],
            "task": {"bot": "Night bot", "message": "An agent will answer shortly."},
            "once_per_conversation": True,
        }
    ],
}


router = APIRouter(prefix="/api/v2/numbers", tags=["Administration"])


@router.get("")
async def list_numbers(user: CurrentUser, parley: ParleyDep) -> list[dict[str, Any]]:
    """Company numbers with their own and effective settings (`partially_configured`: the service's)."""
    return await parley.numbers.list_(user)


@router.get("/{number}")
async def get_number(number: str, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
    return await parley.numbers.get(user, number)


@router.put("/{number}/settings")
async def configure(
    number: str,
    user: CurrentUser,
    parley: ParleyDep,
    settings: dict[str, Any] = Body(examples=[SETTINGS_EXAMPLE]),  # noqa: B008
) -> dict[str, Any]:
    """Replace the number's settings: linked service, routing, out-of-hours routing, hours, actions."""
    return await parley.numbers.configure(user, number, settings)
