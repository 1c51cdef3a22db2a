"""WhatsApp message templates in the native API (/api/v2/whatsapp/templates, issue 12 §5)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from parley.app_state import ParleyDep
from parley.ingress.api import CurrentUser

Number = Annotated[str | None, Query(max_length=32, description="A company number on WhatsApp; all when left out")]
Status = Annotated[str | None, Query(max_length=16, description="Only this status: approved, pending, rejected, …")]


class NewTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(max_length=32, description="A company number on WhatsApp: its account gets the template")
    name: str = Field(max_length=512, examples=["order_update"])
    language: str = Field("en_US", max_length=16)
    category: str = Field(max_length=32, examples=["utility"], description="marketing or utility")
    body: str = Field(max_length=1024, examples=["Hi {{1}}, your order {{2}} has shipped."])
    header_text: str | None = Field(None, max_length=60)
    footer: str | None = Field(None, max_length=60)
    examples: list[Annotated[str, Field(max_length=1024)]] = Field(
        default_factory=list, max_length=100, description="A sample value for each body variable, in order"
    )


class Preview(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(max_length=32)
    template: dict[str, Any] = Field(examples=[{"name": "order_update", "language": "en_US", "variables": ["Kerry"]}])


router = APIRouter(prefix="/api/v2/whatsapp/templates", tags=["WhatsApp"])


@router.get("")
async def list_templates(
    user: CurrentUser, parley: ParleyDep, number: Number = None, status: Status = None
) -> list[dict[str, Any]]:
    """Templates as last synced from Meta: name, language, category, status, components (each with its
    ``variables`` count), ``text`` (placeholders shown as ``{{1}}``) and ``synced_at``."""
    return await parley.whatsapp_templates.list_(user, number, status)


@router.post("/sync")
async def sync(user: CurrentUser, parley: ParleyDep, number: Number = None) -> dict[str, Any]:
    """Sync now (admins): every account, or one number's. A failed account keeps its last list."""
    results = await parley.whatsapp_templates.sync_for(user, number)
    return {
        "accounts": [r.as_doc() for r in results],
        "templates": sum(r.templates for r in results),
        "removed": sum(r.removed for r in results),
        "failed": sum(1 for r in results if r.error),
    }


@router.post("", status_code=201)
async def create(user: CurrentUser, new: NewTemplate, parley: ParleyDep) -> dict[str, Any]:
    """Create a template and submit it for Meta's review (admins); it is pending until a sync says more."""
    return await parley.whatsapp_templates.create(
        user, new.number, new.name, new.language, new.category, new.body,
        header_text=new.header_text, footer=new.footer, examples=new.examples,
    )  # fmt: skip


@router.post("/preview")
async def preview(user: CurrentUser, asked: Preview, parley: ParleyDep) -> dict[str, str]:
    """The text a template send would show, checked as a send is (422 naming ``template`` when it cannot go)."""
    return {"text": await parley.whatsapp_templates.preview(user, asked.number, asked.template)}
