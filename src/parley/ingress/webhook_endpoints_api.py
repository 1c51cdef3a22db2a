"""Outbound webhook endpoints in the native API (/api/v2/webhook-endpoints, issue 13 §1).

The ``secret`` that signs the deliveries is in the 201 answer and nowhere else.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from parley.app_state import ParleyDep
from parley.core.webhook_events import EVENT_TYPES
from parley.ingress.api_auth import CurrentUser

EndpointId = Annotated[str, Path(max_length=24)]
MAX_ROW_ID = 2**31 - 1  # deliveries' ids are 32-bit integers (PostgreSQL refuses larger ones with an error)
_EVENTS = f"Among {', '.join(EVENT_TYPES)}"


class NewEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000, examples=["https://example.com/parley-events"])
    events: list[Annotated[str, Field(max_length=32)]] = Field(max_length=16, examples=[["message.status"]],
                                                              description=_EVENTS)  # fmt: skip
    description: str = Field("", max_length=200)


class EndpointChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, max_length=2000)
    events: list[Annotated[str, Field(max_length=32)]] | None = Field(None, max_length=16, description=_EVENTS)
    description: str | None = Field(None, max_length=200)
    enabled: bool | None = Field(None, description="true enables an endpoint Parley disabled after a day of failures")


router = APIRouter(prefix="/api/v2/webhook-endpoints", tags=["Webhooks"])


@router.post("", status_code=201)
async def create(body: NewEndpoint, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
    """Create an endpoint. The answer holds its ``secret``, shown this once: each delivery carries
    ``Parley-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``."""
    return await parley.webhooks.create(user, body.url, body.events, body.description)


@router.get("")
async def list_endpoints(user: CurrentUser, parley: ParleyDep) -> list[dict[str, Any]]:
    """Your endpoints (an administrator's list holds everyone's); never a secret."""
    return await parley.webhooks.list_(user)


@router.get("/{endpoint_id}")
async def get_endpoint(endpoint_id: EndpointId, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
    return await parley.webhooks.get(user, endpoint_id)


@router.patch("/{endpoint_id}")
async def update(endpoint_id: EndpointId, body: EndpointChange, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
    return await parley.webhooks.update(user, endpoint_id, body.model_dump(exclude_unset=True))


@router.delete("/{endpoint_id}", status_code=204)
async def delete(endpoint_id: EndpointId, user: CurrentUser, parley: ParleyDep) -> None:
    await parley.webhooks.delete(user, endpoint_id)


@router.get("/{endpoint_id}/deliveries")
async def deliveries(
    endpoint_id: EndpointId,
    user: CurrentUser,
    parley: ParleyDep,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ROW_ID, description="Deliveries older than this delivery id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict[str, Any]]:
    """The endpoint's deliveries, newest first, each with every attempt and the receiver's answer."""
    return await parley.webhooks.deliveries(user, endpoint_id, limit=limit, before=before)


@router.post("/{endpoint_id}/deliveries/{delivery_id}/resend")
async def resend(
    endpoint_id: EndpointId,
    delivery_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)],
    user: CurrentUser,
    parley: ParleyDep,
) -> dict[str, Any]:
    """Send the delivery again now (the same event id and body)."""
    return await parley.webhooks.resend(user, endpoint_id, delivery_id)
