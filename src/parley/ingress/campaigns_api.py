"""Campaigns in the native API (/api/v2/campaigns)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from parley.app_state import ParleyDep
from parley.ingress.api import CurrentUser
from parley.ingress.inputs import INT32_MAX, Instant
from parley.services.statistics import safe_cell


class CampaignTemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=512, description="An approved template of the sender's WhatsApp Business Account")
    language: str = Field(default="en_US", max_length=16)
    variables: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="The body's variables in order: text, or a column of the recipients in braces ({first_name})",
    )


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    channel: Literal["sms", "whatsapp"] = "sms"
    sender_type: Literal["number", "alphanumeric"] = "number"
    sender: str = Field(max_length=32, description="A company number, or a sender name of at most 11 characters")
    message: str = Field(
        default="", description="The text, with placeholders from the list's columns, e.g. {first_name} (SMS)"
    )
    whatsapp_template: CampaignTemplateIn | None = Field(
        default=None, description="On WhatsApp: the approved template sent in place of a message"
    )
    rating_extension: str | None = Field(default=None, description="The user charged; the creator by default")
    list_id: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="Recipients from this saved list (or upload a CSV)"
    )
    start_at: Instant | None = None
    hours: dict[str, str] | None = Field(
        default=None, description='Sending hours in each recipient\'s local time: {"from": "09:00", "to": "20:00"}'
    )


def _action(action: str) -> Any:
    async def run(campaign_id: str, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
        if action == "stop":
            return await parley.campaigns.stop(user, campaign_id)
        return await parley.campaigns.start(user, campaign_id)

    run.__doc__ = {
        "start": "Start a draft (scheduled if its start time is ahead).",
        "stop": "Stop: nothing more goes; queued messages not yet handed over are withdrawn.",
        "restart": "Carry on a stopped campaign with the recipients not yet sent.",
    }[action]
    return run


router = APIRouter(prefix="/api/v2/campaigns", tags=["Campaigns"])


@router.get("")
async def list_campaigns(
    user: CurrentUser, parley: ParleyDep, status: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[dict[str, Any]]:
    """The user's campaigns (admins: all), newest first, with their counters."""
    return await parley.campaigns.list_(user, status, limit)


@router.post("", status_code=201)
async def create(body: CampaignIn, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
    """A draft campaign; recipients come from `list_id` or a CSV uploaded to `/{id}/recipients`."""
    return await parley.campaigns.create(user, body.model_dump())


@router.get("/{campaign_id}")
async def get(campaign_id: str, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
    return await parley.campaigns.get(user, campaign_id)


@router.post("/{campaign_id}/recipients")
async def upload(campaign_id: str, file: UploadFile, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
    """Recipients from a CSV (a `number` column, other columns as placeholders); rows with problems are
    reported by line and reason."""
    return await parley.campaigns.upload(user, campaign_id, file.file)


@router.get("/{campaign_id}/recipients")
async def recipients(
    campaign_id: str,
    user: CurrentUser,
    parley: ParleyDep,
    after: Annotated[str | None, Query(description="The last number of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Recipients and their outcome (state, message status, reason), by number."""
    page = await parley.campaigns.recipients(user, campaign_id, after=after, limit=limit)
    return {
        "recipients": [
            {"number": r.number, "state": r.state, "status": r.status, "reason": r.reason, "line": r.line} for r in page
        ],
        "next": page[-1].number if len(page) == limit else None,
    }


@router.get("/{campaign_id}/problems")
async def problems(campaign_id: str, user: CurrentUser, parley: ParleyDep) -> list[dict[str, Any]]:
    """Rows of the uploaded CSV that were not loaded, by line (the first 1,000)."""
    return [{"line": p.line, "reason": p.reason} for p in await parley.campaigns.problems(user, campaign_id)]


for _name in ("start", "stop", "restart"):
    router.add_api_route(f"/{{campaign_id}}/{_name}", _action(_name), methods=["POST"], name=_name)


@router.get("/{campaign_id}/recipients.csv", response_class=StreamingResponse)
async def export(campaign_id: str, user: CurrentUser, parley: ParleyDep) -> StreamingResponse:
    """Every recipient with its outcome, as CSV."""
    first = await parley.campaigns.recipients(user, campaign_id, after=None, limit=1)

    async def rows() -> AsyncIterator[str]:
        yield "number,state,status,reason,line\r\n"
        after: str | None = None
        while first:
            page = await parley.campaigns.recipients(user, campaign_id, after=after, limit=5000)
            if not page:
                break
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\r\n")
            for r in page:
                writer.writerow([safe_cell(v) for v in (r.number, r.state, r.status, r.reason, r.line)])
            yield out.getvalue()
            after = page[-1].number

    headers = {"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'}
    return StreamingResponse(rows(), media_type="text/csv", headers=headers)
