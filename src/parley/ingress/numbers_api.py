"""Company numbers and their conversation settings in the native API (admins only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from parley.ingress.api import CurrentUser
from parley.services.numbers import Numbers

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


def router(numbers: Numbers) -> APIRouter:
    api = APIRouter(prefix="/api/v2/numbers", tags=["Administration"])

    @api.get("")
    async def list_numbers(user: CurrentUser) -> list[dict[str, Any]]:
        """Company numbers with their own and effective settings (`partially_configured`: the service's)."""
        return await numbers.list_(user)

    @api.get("/{number}")
    async def get_number(number: str, user: CurrentUser) -> dict[str, Any]:
        return await numbers.get(user, number)

    @api.put("/{number}/settings")
    async def configure(
        number: str,
        user: CurrentUser,
        settings: dict[str, Any] = Body(examples=[SETTINGS_EXAMPLE]),  # noqa: B008
    ) -> dict[str, Any]:
        """Replace the number's settings: linked service, routing, out-of-hours routing, hours, actions."""
        return await numbers.configure(user, number, settings)

    return api
