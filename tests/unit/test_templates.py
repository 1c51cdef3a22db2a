"""Campaign message placeholders: rendering, listing and checking them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.templates import check, placeholders, render

ADA = {"first_name": "Ada", "last_name": "Lovelace", "city": "London"}


@pytest.mark.parametrize(
    ("template", "fields", "expected"),
    [
        pytest.param("Hi {first_name}!", ADA, "Hi Ada!", id="one-placeholder"),
        pytest.param("{first_name} {last_name}", ADA, "Ada Lovelace", id="two-placeholders"),
        pytest.param("{first_name}{first_name}", ADA, "AdaAda", id="same-twice-adjacent"),
        pytest.param("Hi {First_Name}", ADA, "Hi Ada", id="any-case-in-the-template"),
        pytest.param("Hi {first_name}", {"First_Name": "Ada"}, "Hi Ada", id="any-case-in-the-fields"),
        pytest.param("Hi { first_name }", ADA, "Hi { first_name }", id="spaces-inside-the-braces-stay-as-typed"),
        pytest.param("Hi {nickname}.", ADA, "Hi .", id="missing-field-is-empty"),
        pytest.param("Hi {first_name}", {"first_name": ""}, "Hi ", id="empty-field"),
        pytest.param("{{first_name}}", ADA, "{first_name}", id="escaped-braces-are-literal"),
        pytest.param("{{{first_name}}}", ADA, "{Ada}", id="escaped-braces-around-a-placeholder"),
        pytest.param("a }} b {{", ADA, "a } b {", id="escaped-braces-alone"),
        pytest.param("Price {50% off}", ADA, "Price {50% off}", id="not-a-name-stays-as-typed"),
        pytest.param("{first name}", ADA, "{first name}", id="space-in-name-stays-as-typed"),
        pytest.param("a { b } c", ADA, "a { b } c", id="spaced-braces-stay"),
        pytest.param("lone { and } stay", ADA, "lone { and } stay", id="lone-braces"),
        pytest.param("{}", ADA, "{}", id="empty-braces"),
        pytest.param("{first_name", ADA, "{first_name", id="unclosed"),
        pytest.param("Bonjour {prénom}", {"prénom": "Zoé"}, "Bonjour Zoé", id="non-ascii-name"),
        pytest.param("Hi {first_name}", {"first_name": "{last_name}"}, "Hi {last_name}", id="values-are-not-rendered"),
        pytest.param("{a}\n{b}", {"a": "1", "b": "2"}, "1\n2", id="newlines-kept"),
        pytest.param("{0}", {"0": "zero"}, "zero", id="digits-name"),
    ],
)
def test_placeholders_are_filled_from_the_recipient_fields(
    template: str, fields: dict[str, str], expected: str
) -> None:
    assert render(template, fields) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param("no placeholders", set(), id="none"),
        pytest.param("Hi {First_Name} {last_name} {first_name}", {"first_name", "last_name"}, id="lower-cased-once"),
        pytest.param("{{first_name}} {first name} {}", set(), id="escaped-and-malformed-are-not-placeholders"),
        pytest.param("{ city }", set(), id="spaced-is-not-a-placeholder"),
    ],
)
def test_the_placeholders_a_template_uses_are_listed(template: str, expected: set[str]) -> None:
    assert placeholders(template) == expected


@pytest.mark.parametrize(
    ("template", "available", "problems"),
    [
        pytest.param("Hi {first_name}", {"first_name"}, [], id="all-known"),
        pytest.param("Hi {FIRST_NAME}", {"First_Name"}, [], id="case-ignored"),
        pytest.param("Hi there", set(), [], id="no-placeholders"),
        pytest.param("{{ and }} are fine", set(), [], id="escaped-braces"),
        pytest.param(
            "Hi {frist_name}",
            {"first_name", "last_name"},
            ["unknown placeholder {frist_name}: did you mean {first_name}?"],
            id="typo-gets-a-suggestion",
        ),
        pytest.param(
            "Hi {zip}",
            {"first_name", "last_name"},
            ["unknown placeholder {zip}: the recipients' columns are first_name, last_name"],
            id="unknown-lists-the-columns",
        ),
        pytest.param(
            "Hi {name}",
            set(),
            ["unknown placeholder {name}: the recipients have no columns besides the number"],
            id="no-columns-at-all",
        ),
        pytest.param(
            "Hi {first name}",
            {"first_name"},
            ["{first name} is not a placeholder: names are letters, digits and _ (write {first_name})"],
            id="space-in-name-gets-the-fix",
        ),
        pytest.param(
            "Hi { First_Name }",
            {"first_name"},
            ["{ First_Name } is not a placeholder: names are letters, digits and _ (write {first_name})"],
            id="spaces-inside-the-braces-get-the-fix",
        ),
        pytest.param(
            'Use {"a": 1}',
            {"first_name"},
            ['{"a": 1} is not a placeholder: names are letters, digits and _ (write {{ and }} for literal braces)'],
            id="brace-text-gets-the-escape-hint",
        ),
        pytest.param(
            "Hi {{first_name}}",
            {"first_name"},
            ["{{first_name}} is sent as the text {first_name}; write {first_name} for the recipient's value"],
            id="jinja-style-double-braces",
        ),
        pytest.param("Hi {{nickname}}", {"first_name"}, [], id="double-braces-around-a-non-column-are-literal"),
        pytest.param("Hi {{{first_name}}}", {"first_name"}, [], id="literal-braces-around-a-placeholder"),
        pytest.param(
            "{zip} {zip} {a b} {frist_name}",
            {"first_name"},
            [
                "unknown placeholder {zip}: the recipients' columns are first_name",
                "{a b} is not a placeholder: names are letters, digits and _ (write {{ and }} for literal braces)",
                "unknown placeholder {frist_name}: did you mean {first_name}?",
            ],
            id="each-problem-once-in-order",
        ),
        pytest.param("{" + "x " * 30 + "}", set(), [], id="long-brace-text-is-not-taken-for-a-placeholder"),
    ],
)
def test_a_template_is_checked_against_the_recipient_columns(
    template: str, available: set[str], problems: list[str]
) -> None:
    assert check(template, available) == problems


def test_a_missing_field_renders_empty_but_check_reports_it() -> None:
    assert render("Hi {nickname}", ADA) == "Hi "
    assert check("Hi {nickname}", set(ADA)) == [
        "unknown placeholder {nickname}: the recipients' columns are city, first_name, last_name"
    ]


@given(st.text())
def test_text_with_its_braces_doubled_renders_as_itself(text: str) -> None:
    escaped = text.replace("{", "{{").replace("}", "}}")
    assert render(escaped, ADA) == text
    assert placeholders(escaped) == set()


@given(st.text(alphabet=st.characters(exclude_characters="{}")))
def test_text_without_braces_is_left_alone(text: str) -> None:
    assert render(text, ADA) == text
    assert check(text, set()) == []


@given(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True), st.text(), max_size=5))
def test_every_field_renders_as_its_value(fields: dict[str, str]) -> None:
    for name, value in fields.items():
        assert render("{" + name + "}", fields) == value
        assert check("{" + name.upper() + "}", set(fields)) == []
