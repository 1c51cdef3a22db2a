"""Message placeholders for campaigns: ``Hi {first_name}`` filled from a recipient's columns (issue 4 §2). Pure.

The syntax is Python's ``str.format`` without its surprises:
- ``{name}`` is a placeholder; a name is letters, digits and ``_`` (the keys `recipients.column_key` makes), matched
  to the columns ignoring case.
- ``{{`` and ``}}`` are literal braces.
- Anything else with braces (``{first name}``, ``{ first_name }``, a lone ``{``) is literal text, as typed.
Rendering never fails: a placeholder the recipient has no value for renders as "". Mistakes are caught once, when
the campaign is created, by `check`, which also catches the two a person is likely to make: a column that does not
exist, and ``{{first_name}}`` written for a placeholder (it prints the literal ``{first_name}``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterator, Mapping

# One pass over the template: escaped braces first, so "{{x}}" is never read as a placeholder.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}")
_NAME = re.compile(r"\w+")
_ESCAPED_REST = re.compile(r"(\w+)\}\}")  # after a "{{" token: "{{name}}", meant as a placeholder?
_NON_WORD = re.compile(r"\W+")
_MAX_ATTEMPT = 40  # "{...}" up to this long, not a valid placeholder, is taken for a mistyped one by `check`


def render(template: str, fields: Mapping[str, str]) -> str:
    """The template with each ``{name}`` replaced by the field of that name (any case), "" when there is none,
    and ``{{`` / ``}}`` turned into single braces."""
    folded: dict[str, str] | None = None

    def value(name: str) -> str:
        nonlocal folded
        found = fields.get(name)
        if found is None:
            if folded is None:
                folded = {key.lower(): text for key, text in fields.items()}
            found = folded.get(name.lower(), "")
        return found

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = _NAME.fullmatch(match.group(1))
        return value(name.group(0)) if name else token

    return _TOKEN.sub(replace, template)


def placeholders(template: str) -> set[str]:
    """The placeholder names the template uses, in lower case."""
    return {name.lower() for name in _names(template)}


def check(template: str, available: Collection[str]) -> list[str]:
    """Problems with the template's placeholders given the columns ``available`` (any case), each once, in the
    order they appear; [] when there are none. Meant for campaign creation, where each problem is a refusal."""
    columns = {name.lower(): name for name in available}
    found: list[tuple[int, str]] = []  # (position, problem)
    for match in _TOKEN.finditer(template):
        inner = match.group(1)
        if inner is None:
            escaped = _ESCAPED_REST.match(template, match.end()) if match.group(0) == "{{" else None
            if escaped and escaped.group(1).lower() in columns:
                meant = "{" + escaped.group(1) + "}"
                problem = f"{{{meant}}} is sent as the text {meant}; write {meant} for the recipient's value"
                found.append((match.start(), problem))
            continue
        name = _NAME.fullmatch(inner)
        if name and name.group(0).lower() not in columns:
            found.append((match.start(), _unknown(name.group(0), columns)))
        elif not name and inner and len(inner) <= _MAX_ATTEMPT:
            found.append((match.start(), _malformed(match.group(0), inner, columns)))
    return list(dict.fromkeys(problem for _, problem in sorted(found)))


def _names(template: str) -> Iterator[str]:
    """The name of each placeholder, as written, in order."""
    for match in _TOKEN.finditer(template):
        inner = match.group(1)
        name = _NAME.fullmatch(inner) if inner is not None else None
        if name:
            yield name.group(0)


def _unknown(name: str, columns: Mapping[str, str]) -> str:
    problem = f"unknown placeholder {{{name}}}"
    close = difflib.get_close_matches(name.lower(), columns, n=1)
    if close:
        return f"{problem}: did you mean {{{columns[close[0]]}}}?"
    if not columns:
        return f"{problem}: the recipients have no columns besides the number"
    return f"{problem}: the recipients' columns are {', '.join(sorted(columns.values()))}"


def _malformed(written: str, inner: str, columns: Mapping[str, str]) -> str:
    problem = f"{written} is not a placeholder: names are letters, digits and _"
    guess = _NON_WORD.sub("_", inner.strip().lower()).strip("_")
    if guess in columns:
        return f"{problem} (write {{{columns[guess]}}})"
    return f"{problem} (write {{{{ and }}}} for literal braces)"
