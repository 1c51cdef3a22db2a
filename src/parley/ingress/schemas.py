"""The native API's JSON shapes (documented in OpenAPI at /api/v1/doc)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from parley.core.whatsapp_rules import TemplateSpec
from parley.ingress.inputs import Instant


class SendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: list[str] = Field(description="One destination or several; E.164, or national in the PBX country")
    text: str = Field(default="", description="The message, at most 670 characters; may be empty with `media`")
    media: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Ids of files uploaded with POST /api/v2/media: sent as an MMS (+1 numbers with MMS only); "
        "the text goes as its own SMS",
    )
    send_at: Instant | None = Field(default=None, description="Send later (ISO 8601 with a time zone)")
    gsm: str | None = Field(default=None, description="Send through this GSM gateway (its id)")
    channel: Literal["sms", "whatsapp"] = Field(
        default="sms", description="whatsapp: from your office number on WhatsApp (within the customer's window)"
    )
    template: TemplateIn | None = Field(default=None, description="WhatsApp: an approved template instead of text")
    fallback: Literal["sms"] | None = Field(default=None, description="WhatsApp: go as SMS when WhatsApp cannot")
    status_callback: str | None = Field(
        default=None,
        max_length=2000,
        description="Sends made with an API key: this http(s) URL gets every status of the messages as "
        "`message.status` webhook envelopes, signed with the key's secret (Parley-Signature)",
    )

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class TemplateIn(BaseModel):
    """An approved WhatsApp template to send, with its body's variables in order."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=512)
    language: str = Field(default="en_US", min_length=2, max_length=16)
    variables: list[str] = Field(default_factory=list, max_length=100)
    header_media: str | None = Field(
        default=None, max_length=64, description="An uploaded file's id, for a template with a media header"
    )

    @model_validator(mode="after")
    def _readable(self) -> TemplateIn:
        TemplateSpec.from_doc(self.model_dump())  # a TemplateSpecError (a ValueError) is a 422 naming the field
        return self

    def spec(self) -> TemplateSpec:
        return TemplateSpec.from_doc(self.model_dump())


class RouteStep(BaseModel):
    channel: str
    at: datetime
    outcome: str
    code: str | None = None
    detail: str | None = None


class StatusChange(BaseModel):
    status: str
    at: datetime
    detail: str | None = None


class MediaOut(BaseModel):
    id: str | None = Field(description="null while an inbound file is still being fetched from the provider")
    content_type: str | None
    size: int | None
    filename: str | None
    url: str | None = Field(description="GET it with the same credentials (owner, conversation members, admins)")
    state: Literal["ready", "pending", "failed"]
    error: str | None = Field(default=None, description="Why an inbound file could not be fetched")


class LeftOutOut(BaseModel):
    id: str
    filename: str
    size: int
    reason: str


class MessageOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    direction: Literal["out", "in"]
    from_: str | None = Field(alias="from", serialization_alias="from")
    to: str | None = Field(description="null (as `from` of an inbound message) for a customer without a number")
    external_id: str | None = Field(
        default=None, description="A WhatsApp customer without a phone number: their business-scoped user id"
    )
    body: str
    status: str
    segments: int
    encoding: Literal["gsm7", "ucs2"]
    transport: str | None
    gsm: str | None = None
    user: str | None = None
    source: str
    charge: str | None = None
    currency: str | None = None
    send_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    error: str | None
    error_code: str | None = Field(default=None, description="The provider's own code (Twilio 21211, …)")
    channel: Literal["sms", "mms", "whatsapp", "web"] = "sms"
    delivery_assumed: bool = Field(
        default=False,
        description="`delivered` without a receipt: the transport gives none and counts handed-over messages as "
        "delivered (`assume_delivered`)",
    )
    media: list[MediaOut] = Field(default_factory=list)
    template: dict[str, Any] | None = Field(default=None, description="WhatsApp: the template this message sent")
    route: list[RouteStep] | None = Field(
        default=None, description="The channels the message tried, in order (WhatsApp first, then SMS); null: one"
    )
    history: list[StatusChange] | None = None


class Refused(BaseModel):
    to: str
    reason: str


class SendResponse(BaseModel):
    messages: list[MessageOut]
    refused: list[Refused]
    left_out: list[LeftOutOut] = Field(default_factory=list, description="Files that did not fit the MMS")
    warnings: list[str] = Field(
        default_factory=list,
        description="Sent, but worth knowing: a sender ID the destination country does not take (sent from the "
        "office number), a sender ID carriers may filter as phishing, a link the transport warns about",
    )


class MessagePage(BaseModel):
    messages: list[MessageOut]
    next: str | None = Field(description="Pass as `before` to get the next (older) page; null at the end")
