"""The native JSON API under /api/v2 (messages for now; conversations and campaigns join later)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, HTTPException, Query, Request

from parley.app_state import ParleyDep
from parley.core.numbers import customer_ids
from parley.core.outbound import OutboundError
from parley.ingress.api_auth import CurrentUser as CurrentUser  # re-exported: the routers of /api/v2 use it
from parley.ingress.inputs import Instant
from parley.ingress.schemas import (
    LeftOutOut,
    MediaOut,
    MessageOut,
    MessagePage,
    Refused,
    RouteStep,
    SendRequest,
    SendResponse,
    StatusChange,
)
from parley.services.conversation_support import window_closed
from parley.services.send import SendSms
from parley.services.whatsapp_sends import WindowClosedError
from parley.store.messages import STATUSES, MessageFilter


def field_error(field: str, message: str, status: int = 422) -> HTTPException:
    return HTTPException(status, [{"loc": ["body", field], "msg": message, "type": "value_error"}])


def message_out(row: Any, history: list[Any] | None = None, media: list[dict[str, Any]] | None = None) -> MessageOut:
    data = _data(row)
    sender, recipient, external_id = data["sender"], data["recipient"], None
    if data.get("channel") == "whatsapp":  # an SMS's alphanumeric sender ID stays what it is: its `from`
        if data["direction"] == "in":
            sender, external_id = customer_ids(sender)
        else:
            recipient, external_id = customer_ids(recipient)
    return MessageOut(
        id=data["id"],
        direction=data["direction"],
        from_=sender,
        to=recipient,
        external_id=external_id,
        body=data["body"],
        status=data["status"],
        segments=data["segments"],
        encoding=data["encoding"],
        transport=data["transport"],
        gsm=data.get("gsm"),
        user=data.get("user"),
        source=data["source"],
        charge=data.get("charge"),
        currency=data.get("currency"),
        send_at=data.get("send_at"),
        created_at=data["created_at"],
        updated_at=data["updated_at"],
        error=data.get("error"),
        error_code=data.get("error_code"),
        channel=data.get("channel") or "sms",
        delivery_assumed=bool(data.get("delivery_assumed")),
        media=[MediaOut(**m) for m in (media if media is not None else data.get("media")) or []],
        template=data.get("template"),
        route=[RouteStep(**step) for step in data["route"]] if data.get("route") else None,
        history=[StatusChange(status=h.status, at=h.at, detail=h.detail) for h in history]
        if history is not None
        else None,
    )


class MediaLookup(Protocol):
    async def attachments(self, message_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]: ...


def _data(row: Any) -> dict[str, Any]:
    return dict(row._mapping) if hasattr(row, "_mapping") else dict(row)


async def messages_out(rows: Sequence[Any], media: MediaLookup | None) -> list[MessageOut]:
    """Message objects with their attachments (looked up only for messages that can have them)."""
    data = [_data(r) for r in rows]
    ids = [d["id"] for d in data if (d.get("channel") or "sms") != "sms"]
    found = await media.attachments(ids) if ids and media is not None else {}
    return [message_out(d, media=found.get(d["id"])) for d in data]


router = APIRouter(prefix="/api/v2", tags=["Messages"])


@router.post("/messages", status_code=201, response_model=SendResponse, response_model_by_alias=True)
async def send_messages(body: SendRequest, user: CurrentUser, request: Request, parley: ParleyDep) -> Any:
    """Send one text to one or several destinations, now or at `send_at`."""
    key = getattr(request.state, "api_key", None)
    if body.status_callback is not None:
        if key is None:
            raise HTTPException(400, "status_callback needs a send made with an API key (it signs the callbacks)")
        await parley.webhooks.check_url(body.status_callback, "status_callback")
    try:
        result = await parley.outbox.send(
            SendSms(
                user=user,
                destinations=body.to,
                text=body.text,
                send_at=body.send_at,
                gsm=body.gsm,
                source="api",
                media=body.media,
                channel=body.channel,
                template=body.template.spec() if body.template is not None else None,
                fallback=body.fallback,
                status_callback=body.status_callback,
                callback_format="parley" if body.status_callback is not None else None,
                api_key_id=key.key_id if body.status_callback is not None and key is not None else None,
            )
        )
    except WindowClosedError as exc:
        raise window_closed(exc) from None
    except OutboundError as exc:
        if exc.forbidden:
            raise HTTPException(403, exc.reason) from None
        field = {"number": "to", "message": "text", "postpone": "send_at"}.get(exc.field, exc.field)
        raise field_error(field, exc.reason) from None
    rows = [{**r, "user": user.extension} for r in result.messages]
    return SendResponse(
        messages=await messages_out(rows, parley.media),
        refused=[Refused(to=r.given, reason=r.reason) for r in result.refused],
        left_out=[LeftOutOut(**x.as_dict()) for x in result.left_out],
        warnings=list(result.warnings),
    )


@router.get("/messages", response_model=MessagePage, response_model_by_alias=True)
async def list_messages(
    user: CurrentUser,
    parley: ParleyDep,
    status: Annotated[str | None, Query(description=f"One of {', '.join(STATUSES)}")] = None,
    direction: Annotated[str | None, Query(pattern="^(in|out)$")] = None,
    to: str | None = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    user_filter: Annotated[str | None, Query(alias="user", description="Extension (admins only)")] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    campaign: Annotated[str | None, Query(description="Only this campaign's messages")] = None,
    before: Annotated[str | None, Query(description="Cursor from the previous page's `next`")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    """Messages, newest first, filtered; a user sees his own, an admin everyone's."""
    if status is not None and status not in STATUSES:
        raise HTTPException(
            422,
            [
                {
                    "loc": ["query", "status"],
                    "msg": f"must be one of {', '.join(STATUSES)}",
                    "type": "value_error",
                }
            ],
        )
    user_id: int | None = user.id
    if user.is_admin:
        user_id = None
        if user_filter:
            target = await parley.cache.user(user_filter)
            if target is None:
                raise HTTPException(
                    422,
                    [
                        {
                            "loc": ["query", "user"],
                            "msg": f'no user "{user_filter}"',
                            "type": "value_error",
                        }
                    ],
                )
            user_id = target.id
    rows = await parley.queries.list_(
        MessageFilter(
            status=status,
            direction=direction,
            to=to,
            sender=from_,
            user_id=user_id,
            since=since,
            until=until,
            campaign_id=campaign,
            before_id=before,
            limit=limit + 1,
        )
    )
    page = rows[:limit]
    return MessagePage(messages=await messages_out(page, parley.media), next=page[-1].id if len(rows) > limit else None)


@router.get("/messages/{message_id}", response_model=MessageOut, response_model_by_alias=True)
async def get_message(message_id: str, user: CurrentUser, parley: ParleyDep) -> Any:
    """One message with its status history."""
    found = await parley.queries.get(message_id)
    if found is None or (not user.is_admin and found[0].user_id != user.id):
        raise HTTPException(404, "No such message")
    row, history = found
    files = await parley.media.attachments([row.id]) if row.channel != "sms" else {}
    return message_out(row, history, files.get(row.id))


@router.get("/transports", tags=["Administration"])
async def list_transports(user: CurrentUser, parley: ParleyDep) -> list[dict[str, Any]]:
    """Every transport with its connection state as the workers report it (admins only): `state` (bound if
    any worker is), `workers` (each worker's own), `last_error`; "not running" when no worker runs it."""
    return await parley.admin.transports.list_(user)
