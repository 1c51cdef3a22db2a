"""A WhatsApp campaign's template variables: columns checked once, filled per recipient; the console form read."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.campaign_templates import VariableProblem, check_variables, fill, uses_columns
from parley.core.whatsapp_rules import TemplateSpec, TemplateSpecError
from parley.services.campaign_whatsapp import template_from_form

SPEC = TemplateSpec("promo", "en_US", ("{first_name}", "10%", "Dr {Last_Name}"))


@pytest.mark.parametrize(
    ("variables", "columns", "expected"),
    [
        pytest.param(["{first_name}", "text"], ["first_name"], None, id="known-column"),
        pytest.param(["{FIRST_NAME}"], ["first_name"], None, id="any-case"),
        pytest.param(["plain", "text"], [], None, id="literals-only"),
        pytest.param(
            ["ok", "{frist_name}"], ["first_name"], "whatsapp_template.variables[1]", id="unknown-column-named"
        ),
        pytest.param(["{first_name}"], [], "whatsapp_template.variables[0]", id="no-columns-at-all"),
    ],
)
def test_check_variables(variables: list[str], columns: list[str], expected: str | None) -> None:
    found = check_variables(variables, columns, "whatsapp_template")
    assert (found.field if found else None) == expected
    if isinstance(found, VariableProblem) and "frist" in variables[-1]:
        assert "did you mean {first_name}" in found.reason


def test_uses_columns() -> None:
    assert uses_columns(["a", "{b}"]) and not uses_columns(["a", "{{b}}"])


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            {"first_name": "Ann", "last_name": "Lee"}, ("Ann", "10%", "Dr Lee"), id="filled-in-order-any-case"
        ),
        pytest.param({"first_name": "  Ann ", "last_name": "Lee"}, ("Ann", "10%", "Dr Lee"), id="trimmed"),
        pytest.param({"last_name": "Lee"}, "template variable 1 ({first_name}) is empty", id="missing-value"),
        pytest.param({"first_name": "x" * 1025, "last_name": "L"}, "longer than 1024", id="too-long"),
    ],
)
def test_fill(fields: dict[str, str], expected: tuple[str, ...] | str) -> None:
    filled = fill(SPEC, fields)
    if isinstance(expected, str):
        assert isinstance(filled, str) and expected in filled
    else:
        assert filled == TemplateSpec("promo", "en_US", expected)
        assert TemplateSpec.from_doc(filled.to_doc()) == filled


@given(st.text(max_size=200), st.text(max_size=2000))
def test_any_form_choice_and_variables_read_as_a_template_or_nothing(choice: str, variables: str) -> None:
    found = template_from_form(choice, variables)
    if found is None:
        assert "|" not in choice or choice.rpartition("|")[0] == ""
        return
    assert found["name"] == choice.rpartition("|")[0]
    assert all(v == v.strip() and v and "\n" not in v for v in found["variables"])
    try:  # the service's own check names what is wrong, never crashes
        TemplateSpec.from_doc(found)
    except TemplateSpecError as exc:
        assert exc.field.startswith("template")


def test_a_form_choice_is_name_and_language_and_variables_one_a_line() -> None:
    assert template_from_form("spring_sale|en_US", "{first_name}\r\n\r\n 20% \n") == {
        "name": "spring_sale", "language": "en_US", "variables": ["{first_name}", "20%"]
    }  # fmt: skip
    assert template_from_form("", "x") is None
