"""WhatsApp campaigns (issue 12 §8): what a campaign on WhatsApp is checked for, and where its templates come from.

A campaign on WhatsApp sends from a company number on WhatsApp one approved template, its variables filled from
each recipient's columns (`parley.core.campaign_templates`). Templates are checked and rendered by a
`TemplateResolver` (`services.whatsapp_templates.WhatsAppTemplates`, wired in bootstrap): approved at the last sync.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from parley.core.campaign_templates import VariableProblem, check_variables
from parley.core.characters import problem as unsafe_text
from parley.core.whatsapp_rules import TemplateSpec, TemplateSpecError
from parley.core.whatsapp_templates import find
from parley.services.directory import Config, WhatsAppNumber
from parley.services.errors import ServiceError
from parley.services.whatsapp_sends import Resolved, TemplateResolver
from parley.store import whatsapp_templates as templates_store
from parley.store.db import Database

FIELD = "whatsapp_template"


@dataclass(frozen=True)
class CampaignTemplate:
    """A campaign's template as checked at creation: the spec (variables as written) and its text."""

    spec: TemplateSpec
    text: str  # the body with the variables as written ("Hi {first_name}"): the campaign's message


def whatsapp_number(config: Config, sender: str) -> WhatsAppNumber:
    found = config.whatsapp.get(sender.strip())
    if found is None:
        raise ServiceError(422, f"{sender or 'the sender'} is not a company number on WhatsApp", "sender")
    return found


async def check_campaign(
    resolver: TemplateResolver | None, config: Config, spec: Mapping[str, Any], columns: Collection[str] | None
) -> CampaignTemplate:
    """A campaign on WhatsApp (``spec`` as `Campaigns.create` reads it): from a company number on WhatsApp, with
    an approved template whose variables name only ``columns`` (when known)."""
    if str(spec.get("sender_type") or "number") != "number":
        raise ServiceError(422, "A WhatsApp campaign is sent from a company number", "sender_type")
    sender = str(spec.get("sender") or "").strip()
    whatsapp_number(config, sender)
    return await check_template(resolver, sender, spec.get("whatsapp_template"), columns)


def column_problem(doc: Any, columns: Collection[str]) -> VariableProblem | None:
    """The first variable of a stored ``whatsapp_template`` naming a column the recipients lack."""
    variables = doc.get("variables") if isinstance(doc, Mapping) else None
    return check_variables(variables if isinstance(variables, list) else [], columns, FIELD)


async def check_template(
    resolver: TemplateResolver | None, sender: str, doc: Any, columns: Collection[str] | None
) -> CampaignTemplate:
    """Read and check a campaign's ``whatsapp_template``: its shape, its columns (when known) and that it is
    approved for ``sender``'s account; every refusal is a 422 naming the field."""
    if doc is None:
        raise ServiceError(422, "A WhatsApp campaign needs an approved template", FIELD)
    try:
        spec = TemplateSpec.from_doc(doc, FIELD)
    except TemplateSpecError as exc:
        raise ServiceError(422, exc.reason, exc.field) from None
    texts = {f"{FIELD}.name": spec.name, f"{FIELD}.language": spec.language}
    texts |= {f"{FIELD}.variables[{i}]": v for i, v in enumerate(spec.variables)}
    for field, text in texts.items():  # stored, and looked up: no NUL or other control character gets that far
        unsafe = unsafe_text(field.rpartition(".")[2].capitalize(), text)
        if unsafe is not None:
            raise ServiceError(422, unsafe, field)
    if columns is not None:
        problem = check_variables(spec.variables, columns, FIELD)
        if problem is not None:
            raise ServiceError(422, problem.reason, problem.field)
    resolved = await resolve(resolver, sender, spec)
    return CampaignTemplate(spec, resolved.text)


async def resolve(resolver: TemplateResolver | None, sender: str, spec: TemplateSpec) -> Resolved:
    """``resolver.resolve``, its refusal naming the campaign's field (``template.x`` -> ``whatsapp_template.x``)."""
    if resolver is None:
        raise ServiceError(422, "WhatsApp templates are not available in this installation", FIELD)
    try:
        return await resolver.resolve(sender, spec)
    except ServiceError as exc:
        part = getattr(exc, "part", None)  # WhatsAppTemplates' TemplateRefused names the exact part here
        field = part if isinstance(part, str) else exc.field or "template"
        named = FIELD + field.removeprefix("template") if field.startswith("template") else FIELD
        raise ServiceError(exc.status, exc.reason, named) from None


async def template_choices(db: Database, config: Config) -> list[tuple[str, str]]:
    """The approved templates of the accounts of the company numbers on WhatsApp, for a campaign form:
    (``name|language``, a label with the body's text)."""
    waba_ids = sorted({number.waba_id for number in config.whatsapp.values()})
    if not waba_ids:
        return []
    async with db.read() as conn:
        rows = await templates_store.list_(conn, waba_ids, status="approved")
    choices: dict[str, str] = {}
    for row in rows:
        body = find(row.components, "BODY")
        text = " ".join(str(body.get("text") or "").split()) if body is not None else ""
        label = f"{row.name} ({row.language})" + (f": {text[:80]}" if text else "")
        choices.setdefault(f"{row.name}|{row.language}", label)
    return list(choices.items())


def template_from_form(choice: str, variables: str) -> dict[str, Any] | None:
    """A form's template choice (``name|language``) and its variables (one a line) as a ``whatsapp_template``."""
    name, _, language = choice.rpartition("|")
    if not name:
        return None
    lines = [line.strip() for line in variables.replace("\r\n", "\n").split("\n")]
    return {"name": name, "language": language, "variables": [line for line in lines if line]}
