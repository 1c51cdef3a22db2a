"""Mail2SMS allowed senders: address patterns with `*`, matched without regard to case."""

from __future__ import annotations

import pytest

from parley.core.mail_senders import pattern_problem, read_patterns, sender_allowed

PATTERNS = ["*@example.com", "ops@x.org"]


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        pytest.param("alice@example.com", True, id="anyone-at-the-domain"),
        pytest.param("Alice@EXAMPLE.com", True, id="case-ignored"),
        pytest.param("ops@x.org", True, id="the-one-address"),
        pytest.param("dev@x.org", False, id="another-at-that-domain"),
        pytest.param("alice@mail.example.com", False, id="a-subdomain-is-another-domain"),
        pytest.param("alice@example.com.evil.net", False, id="a-suffix-is-not-the-domain"),
        pytest.param("alice@evil.net", False, id="elsewhere"),
        pytest.param("", False, id="no-sender"),
    ],
)
def test_a_sender_is_allowed_only_by_a_matching_pattern(address: str, allowed: bool) -> None:
    assert sender_allowed(PATTERNS, address) is allowed


def test_no_patterns_allow_anyone() -> None:
    assert sender_allowed([], "anyone@anywhere.example")


@pytest.mark.parametrize("pattern", ["example.com", "a@b@c", "*@*", "*@", "two words@x.org", "@x.org"])
def test_a_bad_pattern_is_named(pattern: str) -> None:
    assert pattern_problem(pattern) is not None


def test_patterns_typed_in_a_form_are_split_on_lines_and_commas() -> None:
    assert read_patterns(" *@example.com\r\nops@x.org, a@b.c ") == ["*@example.com", "ops@x.org", "a@b.c"]
