"""WhatsApp's sending rules (core/whatsapp_rules.py) and a number's fallback settings (core/number_config.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.number_config import ConfigError, config_from_doc, config_to_doc, parse_config
from parley.core.whatsapp_rules import (
    TemplateSpec,
    TemplateSpecError,
    media_kind,
    media_problem,
    window_expires_at,
    window_open,
)

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last", "now", "open_"),
    [
        (None, T0, False),  # never wrote on WhatsApp: no window
        (T0, T0 + timedelta(hours=23, minutes=59), True),
        (T0, T0 + timedelta(hours=24), False),  # closes exactly 24 h after Meta's timestamp
        (T0, T0 - timedelta(minutes=1), True),
    ],
)
def test_the_window_is_24_hours_from_the_customers_last_message(
    last: datetime | None, now: datetime, open_: bool
) -> None:
    assert window_open(last, now) is open_
    assert window_expires_at(last) == (last + timedelta(hours=24) if last else None)


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"language": "en_US"}, "template.name"),
        ({"name": "  "}, "template.name"),
        ({"name": "x", "language": "e"}, "template.language"),
        ({"name": "x", "variables": "Kim"}, "template.variables"),
        ({"name": "x", "variables": ["Kim", ""]}, "template.variables[1]"),
        ({"name": "x", "variables": ["x" * 1025]}, "template.variables[0]"),
        ({"name": "x", "header_media": 7}, "template.header_media"),
        ("order_update", "template"),
    ],
)
def test_a_template_request_that_cannot_be_read_names_its_field(doc: Any, field: str) -> None:
    with pytest.raises(TemplateSpecError) as caught:
        TemplateSpec.from_doc(doc)
    assert caught.value.field == field


def test_a_template_request_round_trips() -> None:
    spec = TemplateSpec.from_doc({"name": "order_update", "variables": ["Kim", "42"], "header_media": "m1"})
    assert spec == TemplateSpec("order_update", "en_US", ("Kim", "42"), "m1")
    assert TemplateSpec.from_doc(spec.to_doc()) == spec


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                 max_size=5)))  # fmt: skip
def test_any_json_is_a_template_or_a_named_error(doc: Any) -> None:
    try:
        spec = TemplateSpec.from_doc(doc)
    except TemplateSpecError as exc:
        assert exc.field.startswith("template")
    else:
        assert spec.name and spec.language


@pytest.mark.parametrize(
    ("content_type", "size", "kind", "refused"),
    [
        ("image/jpeg", 5 * 1024 * 1024, "image", False),
        ("image/png", 5 * 1024 * 1024 + 1, "image", True),
        ("image/gif", 1000, "document", False),  # WhatsApp does not show GIFs as pictures: sent as a document
        ("video/mp4", 16 * 1024 * 1024 + 1, "video", True),
        ("audio/ogg; codecs=opus", 1000, "audio", False),
        ("application/pdf", 100 * 1024 * 1024, "document", False),
    ],
)
def test_files_go_as_the_kind_whatsapp_plays_within_its_size(
    content_type: str, size: int, kind: str, refused: bool
) -> None:
    assert media_kind(content_type) == kind
    assert (media_problem(content_type, size) is not None) is refused


def test_a_numbers_fallback_is_read_checked_and_written_back() -> None:
    config = parse_config({"fallback": "sms", "fallback_after": "10m"}, "numbers[0]")
    assert (config.fallback, config.fallback_after) == ("sms", timedelta(minutes=10))
    assert config.empty  # the fallback is no conversation setting: the service's routing still applies
    assert config_from_doc(config_to_doc(config)) == config
    with pytest.raises(ConfigError) as caught:
        parse_config({"fallback": "email", "fallback_after": "10s"}, "numbers[0]")
    assert caught.value.problems == [
        'numbers[0].fallback: "email" is not one of sms',
        "numbers[0].fallback_after: must be between 30s and 1d",
    ]
