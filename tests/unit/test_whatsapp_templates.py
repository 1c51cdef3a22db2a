"""WhatsApp templates, pure (issue 12 §5): a listing becomes a row, the text a customer sees, whether a send fits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.whatsapp_rules import TemplateSpec, TemplateSpecError
from parley.core.whatsapp_templates import (
    TemplateRow,
    body_variables,
    check,
    from_listing,
    new_template,
    placeholders,
    render,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ORDER = [
    {"type": "HEADER", "format": "TEXT", "text": "Your order"},
    {"type": "BODY", "text": "Hi {{1}}, order {{2}} ships on {{3}}. Thanks {{1}}!"},
    {"type": "FOOTER", "text": "Reply STOP to opt out"},
    {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Track it"},
                                    {"type": "URL", "text": "Open", "url": "https://x.example/{{1}}"}]},
]  # fmt: skip
NAMED = [{"type": "BODY", "text": "Dear {{first_name}}, your code is {{code}}; {{first_name}}, keep it."}]
PICTURE = [
    {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW"]}},
    {"type": "BODY", "text": "Look"},
]


def row(components: list[dict[str, Any]], status: str = "approved", reason: str | None = None) -> TemplateRow:
    return TemplateRow("waba1", "order_update", "en_US", "utility", status, tuple(components), reason=reason)


# --- render --------------------------------------------------------------------------------------------------------

TAIL = "Reply STOP to opt out\n[Track it]\n[Open]"
RENDERED = [
    pytest.param(ORDER, ["Kerry", "#123", "Monday"],
                 "Your order\nHi Kerry, order #123 ships on Monday. Thanks Kerry!\n" + TAIL,
                 id="header-body-footer-buttons"),
    pytest.param(ORDER, None,
                 "Your order\nHi {{1}}, order {{2}} ships on {{3}}. Thanks {{1}}!\n" + TAIL,
                 id="placeholders-shown"),
    pytest.param(ORDER[1:2], ["Kerry"], "Hi Kerry, order {{2}} ships on {{3}}. Thanks Kerry!", id="missing-stay"),
    pytest.param(NAMED, ["Ann", "42"], "Dear Ann, your code is 42; Ann, keep it.", id="named-in-order-of-appearance"),
    pytest.param(PICTURE, [], "[image]\nLook", id="media-header"),
    pytest.param([{"type": "body", "text": "{{2}} then {{1}}"}], ["a", "b"], "b then a", id="numbers-by-value"),
    pytest.param([{"type": "BODY", "text": "{{10}} {{9}}"}], [str(i) for i in range(10)], "1 0", id="ten-after-nine"),
    pytest.param("not a list", ["x"], "", id="garbage"),
]  # fmt: skip


@pytest.mark.parametrize(("components", "variables", "text"), RENDERED)
def test_render_shows_what_the_customer_sees(components: Any, variables: list[str] | None, text: str) -> None:
    assert render(components, variables) == text


def test_a_value_that_looks_like_a_placeholder_is_not_filled_again() -> None:
    assert render([{"type": "BODY", "text": "{{1}} and {{2}}"}], ["{{2}}", "x"]) == "{{2}} and x"


# --- check ---------------------------------------------------------------------------------------------------------

REFUSED = [
    pytest.param(row(ORDER, "pending"), TemplateSpec("order_update", "en_US", ("a", "b", "c")),
                 "template", "is pending at WhatsApp, not approved", id="pending"),
    pytest.param(row(ORDER, "rejected", "INVALID_FORMAT"), TemplateSpec("order_update", "en_US", ("a", "b", "c")),
                 "template", "rejected at WhatsApp, not approved: INVALID_FORMAT", id="rejected-with-reason"),
    pytest.param(row(ORDER, "paused"), TemplateSpec("order_update", "en_US"), "template", "paused", id="paused"),
    pytest.param(row(ORDER), TemplateSpec("order_update", "en_US", ("a",)),
                 "template.variables", "takes 3 body variables; 1 given", id="too-few"),
    pytest.param(row(NAMED), TemplateSpec("order_update", "en_US", ("a", "b", "c")),
                 "template.variables", "takes 2 body variables; 3 given", id="too-many"),
    pytest.param(row(PICTURE), TemplateSpec("order_update", "en_US"),
                 "template.header_media", "has a image header: give the uploaded file's id", id="media-missing"),
    pytest.param(row(ORDER), TemplateSpec("order_update", "en_US", ("a", "b", "c"), header_media="m1"),
                 "template.header_media", "has no image, video or document header", id="media-not-wanted"),
    pytest.param(row([{"type": "HEADER", "format": "TEXT", "text": "Hi {{1}}"}, {"type": "BODY", "text": "x"}]),
                 TemplateSpec("order_update", "en_US"), "template", "variable in its header", id="header-variable"),
    pytest.param(row(NAMED), TemplateSpec("order_update", "en_US", ("a\nb", "c")),
                 "template.variables[0]", "line breaks", id="line-break"),
    pytest.param(row(NAMED), TemplateSpec("order_update", "en_US", ("a", "b     c")),
                 "template.variables[1]", "four spaces", id="spaces"),
]  # fmt: skip


@pytest.mark.parametrize(("template", "spec", "field", "reason"), REFUSED)
def test_check_refuses_a_send_that_does_not_fit(
    template: TemplateRow, spec: TemplateSpec, field: str, reason: str
) -> None:
    with pytest.raises(TemplateSpecError) as refused:
        check(template, spec)
    assert refused.value.field == field and reason in refused.value.reason


@pytest.mark.parametrize(
    ("template", "spec"),
    [
        pytest.param(row(ORDER), TemplateSpec("order_update", "en_US", ("a", "b", "c")), id="three"),
        pytest.param(row(PICTURE), TemplateSpec("order_update", "en_US", (), "media-1"), id="image"),
        pytest.param(row([{"type": "BODY", "text": "Plain"}]), TemplateSpec("order_update", "en_US"), id="none"),
    ],
)
def test_check_lets_a_fitting_send_go(template: TemplateRow, spec: TemplateSpec) -> None:
    check(template, spec)


# --- a listing becomes a row ---------------------------------------------------------------------------------------


def test_a_listed_template_becomes_a_row_with_counts() -> None:
    listed = {"name": "order_update", "language": "en_US", "category": "utility", "status": "approved",
              "components": ORDER, "id": "1234", "reason": "NONE"}  # fmt: skip
    got = from_listing("waba1", listed, NOW)
    assert got is not None
    assert (got.waba_id, got.meta_id, got.reason, got.synced_at) == ("waba1", "1234", None, NOW)
    assert [c["variables"] for c in got.components] == [0, 3, 0, 0]
    assert from_listing("waba1", {"language": "en_US"}, NOW) is None
    assert from_listing("waba1", {"name": "x", "language": ""}, NOW) is None


# --- creating ------------------------------------------------------------------------------------------------------

GOOD = {"name": "order_update", "language": "en_US", "category": "UTILITY", "body": "Hi {{1}}, order {{2}} shipped.",
        "examples": "Kerry\n#123"}  # fmt: skip
CREATE_REFUSED = [
    pytest.param({"name": "Order Update"}, "name", id="name-case"),
    pytest.param({"language": "english"}, "language", id="language"),
    pytest.param({"category": "authentication"}, "category", id="authentication"),
    pytest.param({"category": "promo"}, "category", id="category"),
    pytest.param({"body": ""}, "body", id="empty-body"),
    pytest.param({"body": "x" * 1025}, "body", id="long-body"),
    pytest.param({"body": "Hi {{1}} and {{3}}."}, "body", id="gap"),
    pytest.param({"body": "{{1}}, hello {{2}}."}, "body", id="starts-with-variable"),
    pytest.param({"body": "Hello {{1}} and {{2}}"}, "body", id="ends-with-variable"),
    pytest.param({"header_text": "x" * 61}, "header_text", id="long-header"),
    pytest.param({"header_text": "Hi {{1}}"}, "header_text", id="header-variable"),
    pytest.param({"footer": "Bye {{1}}"}, "footer", id="footer-variable"),
    pytest.param({"examples": "Kerry"}, "examples", id="one-example-short"),
    pytest.param({"examples": None}, "examples", id="no-examples"),
]


@pytest.mark.parametrize(("change", "field"), CREATE_REFUSED)
def test_a_new_template_is_checked_as_meta_checks_it(change: dict[str, Any], field: str) -> None:
    with pytest.raises(TemplateSpecError) as refused:
        new_template(GOOD | change)
    assert refused.value.field == field


def test_a_new_template_makes_metas_components() -> None:
    new = new_template(GOOD | {"header_text": "Shipping", "footer": "Acme Ltd", "category": "utility"})
    assert new.category == "utility"
    assert new.components() == [
        {"type": "HEADER", "format": "TEXT", "text": "Shipping"},
        {"type": "BODY", "text": "Hi {{1}}, order {{2}} shipped.", "example": {"body_text": [["Kerry", "#123"]]}},
        {"type": "FOOTER", "text": "Acme Ltd"},
    ]


# --- fuzz ----------------------------------------------------------------------------------------------------------

json_scalar = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
placeholder_text = st.lists(
    st.one_of(st.text(max_size=8), st.from_regex(r"\{\{ ?[A-Za-z0-9_]{1,6} ?\}\}", fullmatch=True)), max_size=8
).map("".join)
component = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["HEADER", "BODY", "FOOTER", "BUTTONS", "body", "other"]) | json_scalar,
        "format": st.sampled_from(["TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION", ""]) | json_scalar,
        "text": placeholder_text | json_scalar,
        "buttons": st.lists(st.dictionaries(st.sampled_from(["type", "text"]), json_scalar) | json_scalar, max_size=3)
        | json_scalar,
    },
)
components = st.lists(component | json_scalar, max_size=6) | json_scalar


@given(components, st.none() | st.lists(st.text(max_size=10), max_size=6))
def test_render_never_raises_and_fills_every_given_placeholder(given_components: Any, values: Any) -> None:
    text = render(given_components, values)
    assert isinstance(text, str)
    body = next((c for c in given_components if isinstance(c, dict) and c.get("type") in ("BODY", "body")), None) \
        if isinstance(given_components, list) else None  # fmt: skip
    if values is not None and body is not None and isinstance(body.get("text"), str):
        names = placeholders(body["text"])
        if len(values) >= len(names) and all("{{" not in v and "}" not in v for v in values):
            filled = render([body], values)
            assert not any(f"{{{{{n}}}}}" in filled for n in names)


@given(components, st.sampled_from(["approved", "pending", "rejected", ""]),
       st.lists(st.text(max_size=10), max_size=5), st.none() | st.just("m1"))  # fmt: skip
def test_check_either_passes_or_names_the_field(
    given_components: Any, status: str, values: list[str], media: Any
) -> None:
    template = TemplateRow("w", "n", "en_US", "utility", status,
                           tuple(c for c in given_components if isinstance(c, dict))
                           if isinstance(given_components, list) else ())  # fmt: skip
    try:
        check(template, TemplateSpec("n", "en_US", tuple(values), media))
    except TemplateSpecError as exc:
        assert exc.field.startswith("template") and exc.reason
    else:
        assert status == "approved" and len(values) == body_variables(template.components)


@given(st.dictionaries(st.sampled_from(["name", "language", "category", "body", "header_text", "footer", "examples"]),
                       json_scalar | placeholder_text | st.lists(json_scalar, max_size=3)))  # fmt: skip
def test_new_template_reads_anything_or_names_the_field(doc: dict[str, Any]) -> None:
    try:
        new = new_template(doc)
    except TemplateSpecError as exc:
        assert exc.field in {"name", "language", "category", "body", "header_text", "footer", "examples"}
    else:
        assert len(new.examples) == len(placeholders(new.body))


@given(st.dictionaries(st.sampled_from(["name", "language", "category", "status", "components", "id", "reason"]),
                       json_scalar | components))  # fmt: skip
def test_any_listed_template_becomes_a_row_that_fits_the_table_or_none(listed: dict[str, Any]) -> None:
    got = from_listing("waba1", listed, NOW)
    if got is not None:
        assert 0 < len(got.name) <= 512 and 0 < len(got.language) <= 16
        assert len(got.category) <= 32 and 0 < len(got.status) <= 16 and (got.meta_id is None or len(got.meta_id) <= 64)
        assert all(isinstance(c["variables"], int) for c in got.components)
        render(got.components)
