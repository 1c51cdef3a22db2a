"""WhatsApp campaigns (issue 12 §8): what a campaign on WhatsApp is checked for, and where its templates come from.

A campaign on WhatsApp sends from a company number on WhatsApp one approved template, its variables filled from
each recipient's columns (`parley.core.campaign_templates`). Templates are resolved through the `TemplateResolver`
of `services.whatsapp_sends`: `services.whatsapp_templates.WhatsAppTemplates` once it is on main (bootstrap wires it
in one line); until then `SyncedTemplates` below reads the synced templates itself.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from parley.core.campaign_templates import VariableProblem, check_variables
from parley.core.characters import problem as unsafe_text
from parley.core.whatsapp_rules import TemplateSpec, TemplateSpecError
from parley.services.directory import Config, DirectoryCache, WhatsAppNumber
from parley.services.errors import ServiceError
from parley.services.whatsapp_sends import Resolved, TemplateResolver
from parley.store import campaigns as store
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


# --- until services.whatsapp_templates is on main ----------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


@dataclass(frozen=True)
class _Resolved:
    waba_id: str
    text: str


class SyncedTemplates:
    """A stand-in `TemplateResolver` over the synced templates (``whatsapp_templates``): approved, the body's
    variables counted and filled in order. Replaced by `services.whatsapp_templates.WhatsAppTemplates`."""

    def __init__(self, db: Database, cache: DirectoryCache) -> None:
        self._db = db
        self._cache = cache

    async def resolve(self, company_number: str, spec: TemplateSpec) -> Resolved:
        number = (await self._cache.config()).whatsapp.get(company_number)
        if number is None:
            raise ServiceError(422, f"{company_number} is not on WhatsApp", "template")
        async with self._db.read() as conn:
            found = await store.find_template(conn, number.waba_id, spec.name, spec.language)
        if found is None:
            reason = f'"{spec.name}" ({spec.language}) is not a template of this WhatsApp account at the last sync'
            raise ServiceError(422, reason, "template.name")
        if found.status != "approved":
            reason = f'"{spec.name}" ({spec.language}) is {found.status} at WhatsApp, not approved'
            raise ServiceError(422, reason, "template")
        text = body_text(found.components)
        names = list(dict.fromkeys(_PLACEHOLDER.findall(text)))
        if len(names) != len(spec.variables):
            raise ServiceError(
                422,
                f'Template "{spec.name}" takes {len(names)} variables, not {len(spec.variables)}',
                "template.variables",
            )
        values: Mapping[str, str] = dict(zip(names, spec.variables, strict=True))
        return _Resolved(number.waba_id, _PLACEHOLDER.sub(lambda m: values[m.group(1)], text))


async def template_choices(db: Database, config: Config) -> list[tuple[str, str]]:
    """The approved templates of the accounts of the company numbers on WhatsApp, for a campaign form:
    (``name|language``, a label with the body's text)."""
    waba_ids = sorted({number.waba_id for number in config.whatsapp.values()})
    if not waba_ids:
        return []
    async with db.read() as conn:
        rows = await store.approved_templates(conn, waba_ids)
    choices: dict[str, str] = {}
    for row in rows:
        text = body_text(row.components)
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


def body_text(components: Any) -> str:
    """The text of a synced template's body component ("" without one)."""
    for component in components if isinstance(components, list) else []:
        if isinstance(component, dict) and str(component.get("type", "")).upper() == "BODY":
            return str(component.get("text") or "")
    return ""
