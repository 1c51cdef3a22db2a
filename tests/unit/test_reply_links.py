"""Reply links' pure rules: token shape, placeholder filling, counting with the real link, windows, posted forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core import reply_links as rules
from parley.core.draft import count_draft
from parley.core.templates import render
from parley.core.text import split

BASE = "https://sms.example.com"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_tokens_are_twelve_alphanumerics_and_never_repeat() -> None:
    tokens = {rules.new_token() for _ in range(2000)}
    assert len(tokens) == 2000
    assert all(rules.is_token(t) and len(t) == rules.TOKEN_LENGTH for t in tokens)


@pytest.mark.parametrize(
    "value",
    ["", "short", "x" * 13, "abc-def_ghij", "abcdefghijk/", "../../etc/pa", "ÄbcdefghijkL", "abcdefghijk\n"],
    ids=["empty", "short", "long", "punctuation", "slash", "traversal", "non-ascii", "newline"],
)
def test_anything_but_a_token_shape_is_refused_before_lookup(value: str) -> None:
    assert not rules.is_token(value)


def test_the_hash_changes_with_any_character_of_the_token() -> None:
    token = "Ab3dEf6hIj9L"
    tampered = {token[:i] + ("x" if token[i] != "x" else "y") + token[i + 1 :] for i in range(len(token))}
    assert rules.token_hash(token) not in {rules.token_hash(t) for t in tampered}
    assert len(rules.token_hash(token)) == 64


def test_the_link_is_short_and_every_placeholder_is_filled() -> None:
    url = rules.link_url(BASE + "/", "Ab3dEf6hIj9L")
    assert url == "https://sms.example.com/r/Ab3dEf6hIj9L"
    assert rules.fill("Answer here: {reply_link} or {reply_link}", url) == f"Answer here: {url} or {url}"
    assert rules.fill("no placeholder {reply}", url) == "no placeholder {reply}"


def test_a_campaign_template_fills_reply_link_like_a_column_and_keeps_escaped_braces() -> None:
    url = rules.link_url(BASE, "Ab3dEf6hIj9L")
    assert render("Hi {first_name}, answer: {reply_link}", {"first_name": "Ann", "reply_link": url}) == (
        f"Hi Ann, answer: {url}"
    )
    assert render("{{reply_link}}", {"reply_link": url}) == "{reply_link}"


def test_the_counter_counts_the_real_link_not_the_placeholder() -> None:
    text = "Your order shipped. Questions? " + "x" * 100 + " {reply_link}"
    # 144 characters as typed: one segment; with a 38-character link: 170, two segments.
    assert count_draft(text).segments == 1
    counted = count_draft(text, rules.sample_link(BASE))
    real = split(rules.fill(text, rules.link_url(BASE, rules.new_token())))
    assert (counted.segments, counted.characters) == (real.count, len(rules.fill(text, rules.sample_link(BASE))))
    assert counted.segments == 2


@pytest.mark.parametrize(
    ("setting", "days"),
    [(None, 30), (7, 7), (0, 30), (366, 30), (True, 30), ("7", 30), (365, 365)],
    ids=["unset", "seven", "zero", "too-long", "bool", "string", "a-year"],
)
def test_the_lifetime_setting_falls_back_to_thirty_days(setting: object, days: int) -> None:
    assert rules.expiry_days(setting) == days


def test_a_link_is_live_until_its_expiry() -> None:
    expires = NOW + timedelta(days=30)
    assert rules.is_live(expires, expires - timedelta(seconds=1))
    assert not rules.is_live(expires, expires)


def test_a_window_allows_its_posts_then_refuses_until_it_ends() -> None:
    rate = rules.Rate(posts=3, window=timedelta(minutes=1))
    start, count = None, 0
    verdicts = []
    for _ in range(4):
        start, count, allowed = rules.next_window(start, count, NOW, rate)
        verdicts.append(allowed)
    assert verdicts == [True, True, True, False]
    assert rules.next_window(start, count, NOW + timedelta(minutes=1), rate) == (NOW + timedelta(minutes=1), 1, True)


@pytest.mark.parametrize(
    ("body", "text"),
    [(b"text=Hello", "Hello"), (b"text=%C3%A9t%C3%A9+%F0%9F%98%80", "été 😀"), (b"text=a%0D%0Ab", "a\nb")],
    ids=["plain", "utf8", "crlf"],
)
def test_a_posted_form_gives_its_text(body: bytes, text: str) -> None:
    assert rules.read_post(body) == text


@pytest.mark.parametrize(
    "body",
    [b"", b"text=", b"text=+++", b"other=x", b"text=a&text=b", b"text=%FF", b"text=\xc3\xa9", b"text=a%00b",
     ("text=" + "x" * 1001).encode(), b"text=" + b"x" * (rules.MAX_POST_BYTES)],
    ids=["empty", "blank", "spaces", "no-text", "two-texts", "bad-utf8", "raw-bytes", "nul", "too-long", "too-large"],
)  # fmt: skip
def test_a_bad_form_is_refused_naming_the_field(body: bytes) -> None:
    with pytest.raises(rules.PostError) as refused:
        rules.read_post(body)
    assert refused.value.field == "text"


@given(st.binary(max_size=600))
def test_any_bytes_give_a_text_or_a_post_error(body: bytes) -> None:
    try:
        text = rules.read_post(body)
    except rules.PostError:
        return
    assert text.strip() and len(text) <= rules.MAX_TEXT and "\x00" not in text


@given(st.text(max_size=1200))
def test_any_text_posted_comes_back_or_is_refused(text: str) -> None:
    try:
        got = rules.read_post(("text=" + quote(text, safe="")).encode())
    except rules.PostError:
        return
    assert got == text.replace("\r\n", "\n").strip()
