"""Conversations in the native API (/api/v2/conversations, /api/v2/calls, /api/v2/blocklist-by-agents)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from parley.app_state import ParleyDep
from parley.ingress.api import CurrentUser, messages_out
from parley.ingress.inputs import Instant
from parley.ingress.schemas import LeftOutOut, MessageOut, TemplateIn
from parley.store.conversations import ConversationFilter


class ConversationOut(BaseModel):
    id: str
    title: str
    company_number: str
    external_number: str | None = Field(description="The customer's number; null for a customer known only by an id")
    external_id: str | None = Field(
        default=None, description="A WhatsApp customer without a phone number: their business-scoped user id"
    )
    service: str | None
    assignee: str | None
    participants: list[str] = Field(description="Extensions of users and names of bots now in the conversation")
    former_participants: list[str]
    unrouted: bool
    unread: int
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None
    last_channel: Literal["sms", "whatsapp"] | None = Field(
        None, description="The channel the customer last wrote on; replies go there unless another is picked"
    )
    whatsapp_window_expires_at: datetime | None = Field(
        None,
        description="When WhatsApp's 24-hour customer-service window closes (from Meta's time of the customer's last "
        "WhatsApp message); free-form WhatsApp messages only before it, templates after; null without WhatsApp",
    )


class OpenConversation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(description="The customer's number")
    service: str = Field(description="A service with an SMS number")


class PostText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(
        default="",
        description="At most 670 characters by SMS, 4,096 on WhatsApp. STOP blocks the customer, START unblocks",
    )
    media: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Uploaded files' ids (POST /api/v2/media): sent as an MMS, or one message each on WhatsApp",
    )
    channel: Literal["sms", "whatsapp"] | None = Field(
        None, description="The channel of this message; by default the one the customer last wrote on"
    )
    template: TemplateIn | None = Field(
        None, description="WhatsApp: an approved template instead of text (the only kind allowed outside the window)"
    )
    fallback: Literal["sms"] | None = Field(
        None, description="WhatsApp: send as SMS when WhatsApp cannot deliver it (the number's setting otherwise)"
    )


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member: str = Field(description="A user's extension or a bot's name")


class Assign(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: str | None = Field(description="An extension, or null to unassign")


class Rename(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = None
    service: str | None = Field(
        None, description="Never changes: a conversation keeps the service it was created with (seed 001)"
    )


class TimelineEvent(BaseModel):
    kind: str
    actor: str | None
    detail: dict[str, Any]
    at: datetime


class CallOut(BaseModel):
    id: str
    conversation_id: str | None
    customer_number: str
    company_number: str | None
    direction: str
    started_at: datetime
    ended_at: datetime | None


class Timeline(BaseModel):
    messages: list[MessageOut]
    events: list[TimelineEvent]
    calls: list[CallOut]
    older: str | None = Field(
        None, description="Pass as `before` for the page of older messages, events and calls; null at the start"
    )


class PostResult(BaseModel):
    message: MessageOut | None
    command: str | None = Field(description="stop or start when the text was an agent command (nothing was sent)")
    messages: list[MessageOut] = Field(default_factory=list, description="Every message sent: the text, the MMS")
    left_out: list[LeftOutOut] = Field(default_factory=list, description="Files that did not fit the MMS")


class CallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer: str
    company_number: str | None = Field(default=None, max_length=20)
    service: str | None = None
    agent: str | None = Field(default=None, description="Extension; the caller by default")
    direction: Literal["in", "out"]
    started_at: Instant
    ended_at: Instant | None = None


class Block(BaseModel):
    company_number: str
    external_number: str
    blocked_by: str | None
    created_at: datetime


router = APIRouter(prefix="/api/v2", tags=["Conversations"])


@router.get("/conversations", response_model=list[ConversationOut])
async def list_conversations(
    user: CurrentUser,
    parley: ParleyDep,
    service: Annotated[str | None, Query(description="Service name")] = None,
    company_number: str | None = None,
    customer: str | None = None,
    assigned_to_me: bool = False,
    unassigned: bool = False,
    unrouted: bool | None = None,
    before: Annotated[Instant | None, Query(description="updated_at of the last item of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    """The user's own conversations (admins: all), most recently active first."""
    f = ConversationFilter(
        company_number=company_number, external_number=customer, unassigned=unassigned, unrouted=unrouted,
        before=before, limit=limit, assignee_id=user.id if assigned_to_me else None,
    )  # fmt: skip
    rows = await parley.conversations.list_(user, f)
    return [r for r in rows if service is None or r["service"] == service]


@router.post("/conversations", response_model=ConversationOut, status_code=201)
async def open_conversation(body: OpenConversation, user: CurrentUser, parley: ParleyDep) -> Any:
    """Start (or join) the SMS conversation with a customer for a service."""
    return await parley.conversations.open(user, body.to, body.service)


@router.get("/conversations/{conversation_id}", response_model=ConversationOut)
async def get_conversation(conversation_id: str, user: CurrentUser, parley: ParleyDep) -> Any:
    return await parley.conversations.get(user, conversation_id)


@router.get("/conversations/{conversation_id}/messages", response_model=Timeline, response_model_by_alias=True)
async def conversation_timeline(
    conversation_id: str,
    user: CurrentUser,
    parley: ParleyDep,
    before: Annotated[str | None, Query(description="The `older` cursor of the newer page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    include_blocked: Annotated[
        bool, Query(description="Admins: also the messages of a customer an agent blocked (status `blocked`)")
    ] = False,
) -> Any:
    """Messages (with delivery state), system events and calls: the newest page, or the one `before`.

    Messages a blocked customer sent are kept but not listed, unless an admin asks (`include_blocked`)."""
    found = await parley.conversations.timeline(user, conversation_id, limit, before, blocked=include_blocked)
    return Timeline(
        messages=await messages_out(found["messages"], parley.media),
        events=[TimelineEvent(kind=e.kind, actor=e.actor, detail=e.detail, at=e.at) for e in found["events"]],
        calls=[CallOut.model_validate(dict(c._mapping)) for c in found["calls"]],
        older=found["older"],
    )


@router.post("/conversations/{conversation_id}/messages", response_model=PostResult, status_code=201,
             response_model_by_alias=True)  # fmt: skip
async def post_message(conversation_id: str, body: PostText, user: CurrentUser, parley: ParleyDep) -> Any:
    """Reply to the customer from the conversation's company number."""
    posted = await parley.conversations.post(
        user, conversation_id, body.text, media=body.media, channel=body.channel,
        template=body.template.spec() if body.template is not None else None, fallback=body.fallback,
    )  # fmt: skip
    sent = await messages_out(posted.messages, parley.media)
    return PostResult(
        message=sent[0] if sent else None,
        command=posted.command,
        messages=sent,
        left_out=[LeftOutOut(**x.as_dict()) for x in posted.left_out],
    )


@router.post("/conversations/{conversation_id}/members", response_model=ConversationOut)
async def add_member(conversation_id: str, body: Member, user: CurrentUser, parley: ParleyDep) -> Any:
    return await parley.conversations.add_member(user, conversation_id, body.member)


@router.delete("/conversations/{conversation_id}/members/{member}", response_model=ConversationOut)
async def remove_member(conversation_id: str, member: str, user: CurrentUser, parley: ParleyDep) -> Any:
    return await parley.conversations.remove_member(user, conversation_id, member)


@router.post("/conversations/{conversation_id}/leave", status_code=204)
async def leave(conversation_id: str, user: CurrentUser, parley: ParleyDep) -> None:
    await parley.conversations.leave(user, conversation_id)


@router.post("/conversations/{conversation_id}/assign", response_model=ConversationOut)
async def assign(conversation_id: str, body: Assign, user: CurrentUser, parley: ParleyDep) -> Any:
    return await parley.conversations.assign(user, conversation_id, body.assignee)


@router.patch("/conversations/{conversation_id}", response_model=ConversationOut)
async def rename(conversation_id: str, body: Rename, user: CurrentUser, parley: ParleyDep) -> Any:
    """Rename the conversation. Its service never changes (seed 001): asking for another is refused."""
    return await parley.conversations.rename(user, conversation_id, body.title, service=body.service)


@router.post("/conversations/{conversation_id}/read", status_code=204)
async def mark_read(conversation_id: str, user: CurrentUser, parley: ParleyDep) -> None:
    await parley.conversations.read(user, conversation_id)


@router.post("/calls", status_code=201, tags=["Calls"])
async def record_call(body: CallIn, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
    """Record a call; it joins the conversation with the same customer and service."""
    return await parley.conversations.record_call(user, body.model_dump())


@router.get("/blocks", response_model=list[Block], tags=["Administration"])
async def list_blocks(user: CurrentUser, parley: ParleyDep) -> Any:
    """Customers blocked by agents (admins only)."""
    return [dict(r._mapping) for r in await parley.conversations.list_blocks(user)]


@router.delete("/blocks/{company_number}/{external_number}", status_code=204, tags=["Administration"])
async def lift_block(company_number: str, external_number: str, user: CurrentUser, parley: ParleyDep) -> None:
    await parley.conversations.lift_block(user, company_number, external_number)
