"""A WhatsApp campaign's template variables, filled from each recipient's columns (issue 12 §8). Pure.

A campaign names an approved template and its body variables in order; each variable is literal text, a
recipient's column in braces (``{first_name}``) or a mix (``Dr {last_name}``), written as campaign messages
are (`parley.core.templates`). Columns are checked once, when the campaign is created or its CSV loaded;
a recipient whose filled variable comes out empty is skipped with the reason (Meta refuses empty parameters).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from parley.core.templates import check, placeholders, render
from parley.core.whatsapp_rules import MAX_VARIABLE, TemplateSpec


@dataclass(frozen=True)
class VariableProblem:
    """What is wrong with one variable: ``field`` names it (``whatsapp_template.variables[1]``)."""

    field: str
    reason: str


def check_variables(variables: Sequence[str], columns: Collection[str], field: str) -> VariableProblem | None:
    """The first variable whose placeholders are not among ``columns`` (any case); None when all are."""
    for i, variable in enumerate(variables):
        problems = check(variable, columns)
        if problems:
            return VariableProblem(f"{field}.variables[{i}]", problems[0])
    return None


def uses_columns(variables: Sequence[str]) -> bool:
    return any(placeholders(v) for v in variables)


def fill(spec: TemplateSpec, fields: Mapping[str, str]) -> TemplateSpec | str:
    """The template to send one recipient (each variable filled from ``fields``), or why it cannot be sent."""
    filled = tuple(render(v, fields).strip() for v in spec.variables)
    for i, (written, value) in enumerate(zip(spec.variables, filled, strict=True)):
        if not value:
            return f"template variable {i + 1} ({written}) is empty for this recipient"
        if len(value) > MAX_VARIABLE:
            return f"template variable {i + 1} ({written}) is longer than {MAX_VARIABLE} characters"
    return TemplateSpec(spec.name, spec.language, filled, spec.header_media)
