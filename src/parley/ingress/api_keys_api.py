"""API keys in the native API (/api/v2/api-keys, issue 13 §2): the secret is in the 201 answer and nowhere else."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from parley.app_state import ParleyDep
from parley.ingress.api_auth import CurrentUser

KeyId = Annotated[str, Path(max_length=34, description="The key SID (SK + 32 hex digits)")]


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200, examples=["CRM integration"])
    scopes: list[Annotated[str, Field(max_length=32)]] = Field(
        max_length=8, examples=[["send", "read"]], description="Among send, read, conversations, admin"
    )
    expires_at: AwareDatetime | None = Field(None, description="ISO 8601 with a time zone; never when left out")
    user: str | None = Field(
        None, max_length=32, examples=["102"], description="Admins: the extension of the user the key acts as"
    )


router = APIRouter(prefix="/api/v2/api-keys", tags=["API keys"])


@router.post("", status_code=201)
async def create(body: NewKey, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
    """Create a key. The answer holds its ``secret``: shown this once, never again. Use it as
    ``Authorization: Bearer <secret>``, or as HTTP Basic with the key's ``id`` as the user name."""
    created = await parley.api_keys.create(
        user, name=body.name, scopes=body.scopes, expires_at=body.expires_at, user=body.user
    )
    return created.doc


@router.get("")
async def list_keys(user: CurrentUser, parley: ParleyDep) -> list[dict[str, Any]]:
    """Your keys (an administrator's list holds everyone's), with ``last_used_at``; never a secret."""
    return await parley.api_keys.list_(user)


@router.get("/{key_id}")
async def get_key(key_id: KeyId, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
    return await parley.api_keys.get(user, key_id)


@router.delete("/{key_id}", status_code=204)
async def revoke(key_id: KeyId, user: CurrentUser, parley: ParleyDep) -> None:
    """Revoke the key: every process refuses it from the next request on."""
    await parley.api_keys.revoke(user, key_id)
