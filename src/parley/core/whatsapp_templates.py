"""WhatsApp message templates: what a synced template is, the text a customer sees, whether a send fills it. Pure.

Facts relied on (Meta's "Message templates", "Components" and "Template categories" pages):

- A template has ``components``: at most one ``HEADER`` (``format`` TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION), one
  ``BODY`` (≤ 1024 characters), an optional ``FOOTER`` (≤ 60 characters, no variables) and ``BUTTONS`` (quick
  replies, URLs, phone numbers, …). Meta lists the types in upper case.
- Variables are ``{{1}}``, ``{{2}}``… (positional, numbered from 1 without gaps) or ``{{first_name}}`` (named).
  A send gives the body's values in order; a media header needs the file.
- Only an ``APPROVED`` template can be sent; ``PENDING``, ``REJECTED``, ``PAUSED`` and ``DISABLED`` ones cannot.
- Creating one: ``name`` lower-case letters, digits and underscores (≤ 512); the body's variables need sample
  values (``example.body_text``); a variable may not open or close the body; a text header ≤ 60 characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from parley.core.whatsapp_rules import TemplateSpec, TemplateSpecError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
ENDS_WITH_PLACEHOLDER = re.compile(r"\{\{\s*[A-Za-z0-9_]+\s*\}\}\Z")
MEDIA_HEADERS = frozenset({"IMAGE", "VIDEO", "DOCUMENT"})
CATEGORIES = ("marketing", "utility", "authentication")
NAME = re.compile(r"[a-z0-9_]{1,512}")
LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Za-z]{2,4})?")
MAX_BODY = 1024
MAX_HEADER = 60
MAX_FOOTER = 60
# Meta refuses a body parameter with a line break, a tab or more than four spaces in a row (error 132018).
BAD_PARAMETER = re.compile(r"[\n\r\t]| {5,}")


@dataclass(frozen=True)
class TemplateRow:
    """One synced template of one WhatsApp Business Account (a row of ``whatsapp_templates``)."""

    waba_id: str
    name: str
    language: str
    category: str
    status: str  # lower case: approved, pending, rejected, paused, disabled, …
    components: tuple[dict[str, Any], ...] = ()
    meta_id: str | None = None
    reason: str | None = None
    synced_at: datetime | None = None


def placeholders(text: object) -> list[str]:
    """The distinct placeholders of a text, in the order their values are given: numbers ascending, names as met."""
    if not isinstance(text, str):
        return []
    found = list(dict.fromkeys(PLACEHOLDER.findall(text)))
    if found and all(p.isdigit() for p in found):
        return sorted(found, key=lambda p: (len(p.lstrip("0")), p.lstrip("0")))
    return found


def _kind(component: Mapping[str, Any]) -> str:
    kind = component.get("type")
    return kind.upper() if isinstance(kind, str) else ""


def _components(components: object) -> list[Mapping[str, Any]]:
    return [c for c in components if isinstance(c, Mapping)] if isinstance(components, Sequence) else []


def find(components: object, kind: str) -> Mapping[str, Any] | None:
    """The first component of a kind (HEADER, BODY, FOOTER, BUTTONS), or None."""
    return next((c for c in _components(components) if _kind(c) == kind), None)


def header_format(components: object) -> str | None:
    """TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION (upper case), or None without a header."""
    header = find(components, "HEADER")
    if header is None:
        return None
    value = header.get("format")
    return value.upper() if isinstance(value, str) and value else "TEXT"


def body_variables(components: object) -> int:
    """How many values a send must give for the body."""
    body = find(components, "BODY")
    return len(placeholders(body.get("text"))) if body is not None else 0


def with_counts(components: object) -> tuple[dict[str, Any], ...]:
    """Components as stored and shown: each with ``variables``, how many placeholders its text has."""
    return tuple(dict(c) | {"variables": len(placeholders(c.get("text")))} for c in _components(components))


def _storable(text: str) -> bool:
    """Printable, and storable as text by every database (no NUL, no lone surrogates)."""
    return text.isprintable() and not any("\ud800" <= c <= "\udfff" for c in text)


def from_listing(waba_id: str, listed: Mapping[str, Any], now: datetime) -> TemplateRow | None:
    """A row from one template as `WhatsAppChannel.list_templates` gives it; None for one without name or language."""
    name, language = listed.get("name"), listed.get("language")
    if not isinstance(name, str) or not 0 < len(name) <= 512 or not _storable(name):
        return None
    if not isinstance(language, str) or not 0 < len(language) <= 16 or not _storable(language):
        return None
    meta_id, reason = _clean(listed.get("id"), 64), _clean(listed.get("reason"), 1000)
    return TemplateRow(
        waba_id=waba_id,
        name=name,
        language=language,
        category=_clean(listed.get("category"), 32).lower(),
        status=_clean(listed.get("status"), 16).lower() or "unknown",
        components=with_counts(listed.get("components")),
        meta_id=meta_id or None,
        reason=reason if reason and reason.upper() != "NONE" else None,
        synced_at=now,
    )


def _clean(value: object, limit: int) -> str:
    """A listed string or number as stored: printable characters only, cut to the column's size."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return ""
    text = str(value) if isinstance(value, str) or abs(value) < 10**20 else ""
    return "".join(c for c in text if c.isprintable() and not "\ud800" <= c <= "\udfff")[:limit]


def _fill(text: str, values: Sequence[str] | None) -> str:
    if values is None:
        return text
    order = {name: i for i, name in enumerate(placeholders(text))}

    def value(match: re.Match[str]) -> str:
        i = order.get(match.group(1))
        return values[i] if i is not None and i < len(values) else match.group(0)

    return PLACEHOLDER.sub(value, text)


def _button(button: object) -> str | None:
    if not isinstance(button, Mapping):
        return None
    text = button.get("text")
    return f"[{text}]" if isinstance(text, str) and text.strip() else None


def render(components: object, variables: Sequence[str] | None = None) -> str:
    """The text the customer will see: the header (a media header as ``[image]``), the body with its placeholders
    filled from ``variables`` in order (left as ``{{1}}`` when None or missing), the footer, then each button as
    ``[Its text]``. One part per line; never raises."""
    lines: list[str] = []
    for component in _components(components):
        kind = _kind(component)
        text = component.get("text")
        if kind == "HEADER":
            fmt = header_format([component])
            if fmt != "TEXT":
                lines.append(f"[{(fmt or 'media').lower()}]")
            elif isinstance(text, str) and text:
                lines.append(text)
        elif kind == "BODY" and isinstance(text, str):
            lines.append(_fill(text, variables))
        elif kind == "FOOTER" and isinstance(text, str) and text:
            lines.append(text)
        elif kind == "BUTTONS" and isinstance(component.get("buttons"), Sequence):
            lines += [b for b in map(_button, component["buttons"]) if b is not None]
    return "\n".join(lines)


def check(row: TemplateRow, spec: TemplateSpec) -> None:
    """Whether ``spec`` can be sent with this template as synced; raises `TemplateSpecError` saying why not."""
    label = f'"{row.name}" ({row.language})'
    if row.status != "approved":
        why = f": {row.reason}" if row.reason else ""
        raise TemplateSpecError("template", f"{label} is {row.status or 'unknown'} at WhatsApp, not approved{why}")
    header = find(row.components, "HEADER")
    fmt = header_format(row.components)
    if header is not None and fmt == "TEXT" and placeholders(header.get("text")):
        raise TemplateSpecError("template", f"{label} has a variable in its header, which Parley cannot fill")
    if fmt in MEDIA_HEADERS and spec.header_media is None:
        what = (fmt or "").lower()
        raise TemplateSpecError("template.header_media", f"{label} has a {what} header: give the uploaded file's id")
    if fmt not in MEDIA_HEADERS and spec.header_media is not None:
        raise TemplateSpecError("template.header_media", f"{label} has no image, video or document header")
    wanted = body_variables(row.components)
    if len(spec.variables) != wanted:
        takes = f"{wanted} body variable{'' if wanted == 1 else 's'}"
        raise TemplateSpecError("template.variables", f"{label} takes {takes}; {len(spec.variables)} given")
    for i, value in enumerate(spec.variables):
        if BAD_PARAMETER.search(value):
            raise TemplateSpecError(
                f"template.variables[{i}]", "may not have line breaks, tabs or more than four spaces in a row"
            )


@dataclass(frozen=True)
class NewTemplate:
    """A template to submit for Meta's review (the console's form, the API's body)."""

    name: str
    language: str
    category: str
    body: str
    header_text: str | None = None
    footer: str | None = None
    examples: tuple[str, ...] = field(default=())

    def components(self) -> list[dict[str, Any]]:
        """The ``components`` of ``POST /{waba_id}/message_templates``."""
        found: list[dict[str, Any]] = []
        if self.header_text:
            found.append({"type": "HEADER", "format": "TEXT", "text": self.header_text})
        body: dict[str, Any] = {"type": "BODY", "text": self.body}
        if self.examples:
            body["example"] = {"body_text": [list(self.examples)]}
        found.append(body)
        if self.footer:
            found.append({"type": "FOOTER", "text": self.footer})
        return found


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def new_template(doc: Mapping[str, Any]) -> NewTemplate:
    """Read a template to create, checked as Meta will check it; raises `TemplateSpecError` naming the field."""
    name, language, category, body = (_text(doc.get(k)) for k in ("name", "language", "category", "body"))
    if not NAME.fullmatch(name):
        raise TemplateSpecError("name", "1 to 512 lower-case letters, digits and underscores (order_update)")
    if not LANGUAGE.fullmatch(language):
        raise TemplateSpecError("language", 'must be a language code such as "en_US" or "fr"')
    category = category.lower()
    if category == "authentication":
        raise TemplateSpecError("category", "authentication templates have Meta's fixed text: use WhatsApp Manager")
    if category not in CATEGORIES:
        raise TemplateSpecError("category", "must be marketing or utility")
    if not 1 <= len(body) <= MAX_BODY:
        raise TemplateSpecError("body", f"must have 1 to {MAX_BODY} characters")
    names = placeholders(body)
    if names and names != [str(i) for i in range(1, len(names) + 1)]:
        raise TemplateSpecError("body", "variables are {{1}}, {{2}}, … numbered from 1 without gaps")
    if PLACEHOLDER.match(body) or ENDS_WITH_PLACEHOLDER.search(body):
        raise TemplateSpecError("body", "may not begin or end with a variable (Meta refuses it)")
    header, footer = _text(doc.get("header_text")), _text(doc.get("footer"))
    if len(header) > MAX_HEADER or PLACEHOLDER.search(header):
        raise TemplateSpecError("header_text", f"at most {MAX_HEADER} characters, without variables")
    if len(footer) > MAX_FOOTER or PLACEHOLDER.search(footer):
        raise TemplateSpecError("footer", f"at most {MAX_FOOTER} characters, without variables")
    raw = doc.get("examples") or ()
    if isinstance(raw, str):
        raw = raw.splitlines()
    examples = tuple(_text(e) for e in raw if _text(e)) if isinstance(raw, Sequence) else ()
    if len(examples) != len(names):
        raise TemplateSpecError(
            "examples", f"give one sample value per body variable ({len(names)}), which Meta's review reads"
        )
    if any(len(e) > 1024 or BAD_PARAMETER.search(e) for e in examples):
        raise TemplateSpecError("examples", "each at most 1024 characters, on one line")
    return NewTemplate(name, language, category, body, header or None, footer or None, examples)
