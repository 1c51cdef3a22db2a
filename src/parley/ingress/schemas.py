"""The native API's JSON shapes (documented in OpenAPI at /api/v1/doc)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from parley.ingress.inputs import Instant


class SendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: list[str] = Field(description="One destination or several; E.164, or national in the PBX country")
    text: str = Field(description="The message, at most 670 characters")
    send_at: Instant | None = Field(default=None, description="Send later (ISO 8601 with a time zone)")
    gsm: str | None = Field(default=None, description="Send through this GSM gateway (its id)")

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class StatusChange(BaseModel):
    status: str
    at: datetime
    detail: str | None = None


class MessageOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    direction: Literal["out", "in"]
    from_: str = Field(alias="from", serialization_alias="from")
    to: str
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
    history: list[StatusChange] | None = None


class Refused(BaseModel):
    to: str
    reason: str


class SendResponse(BaseModel):
    messages: list[MessageOut]
    refused: list[Refused]


class MessagePage(BaseModel):
    messages: list[MessageOut]
    next: str | None = Field(description="Pass as `before` to get the next (older) page; null at the end")
