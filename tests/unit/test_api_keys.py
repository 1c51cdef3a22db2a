"""API keys, the pure rules: SID formats, secrets' shape, scopes, the Bearer header, and the scope of each route."""

from __future__ import annotations

import pytest

from parley.core import api_keys as rules

RANDOM = bytes(range(16))


def test_a_key_sid_is_sk_and_32_lowercase_hex_digits() -> None:
    sid = rules.key_sid(RANDOM)
    assert sid == "SK000102030405060708090a0b0c0d0e0f"
    assert rules.is_key_sid(sid) and not rules.is_account_sid(sid)


def test_the_account_sid_is_ac_and_32_hex_digits() -> None:
    sid = rules.account_sid(RANDOM)
    assert sid.startswith("AC") and len(sid) == 34
    assert rules.is_account_sid(sid) and not rules.is_key_sid(sid)


@pytest.mark.parametrize("random_bytes", [b"", b"x" * 15, b"x" * 17], ids=["none", "short", "long"])
def test_a_sid_takes_exactly_16_random_bytes(random_bytes: bytes) -> None:
    with pytest.raises(ValueError, match="16 random bytes"):
        rules.key_sid(random_bytes)


@pytest.mark.parametrize(
    ("value", "is_sid"),
    [
        pytest.param("SK" + "a" * 32, True, id="right"),
        pytest.param("SK" + "A" * 32, False, id="upper-hex"),
        pytest.param("sk" + "a" * 32, False, id="lower-prefix"),
        pytest.param("SK" + "a" * 31, False, id="short"),
        pytest.param("SK" + "a" * 33, False, id="long"),
        pytest.param("SK" + "g" * 32, False, id="not-hex"),
        pytest.param("101", False, id="an-extension"),
        pytest.param("SK" + "a" * 32 + "\n", False, id="trailing-newline"),
    ],
)
def test_what_is_a_key_sid(value: str, is_sid: bool) -> None:
    assert rules.is_key_sid(value) is is_sid


@pytest.mark.parametrize(
    ("value", "could"),
    [
        pytest.param("psk_" + "A1-_" * 11, True, id="ours"),
        pytest.param("psk_", False, id="prefix-only"),
        pytest.param("A1b2" * 11, False, id="no-prefix"),
        pytest.param("psk_abc def", False, id="space"),
        pytest.param("psk_abc+/=", False, id="not-urlsafe"),
        pytest.param("psk_" + "a" * 300, False, id="overlong"),
        pytest.param("psk_ä", False, id="not-ascii"),
    ],
)
def test_what_could_be_a_secret(value: str, could: bool) -> None:
    assert rules.could_be_secret(value) is could


@pytest.mark.parametrize(
    ("header", "token"),
    [
        pytest.param("Bearer psk_abc", "psk_abc", id="bearer"),
        pytest.param("bearer psk_abc", "psk_abc", id="lower-case-scheme"),
        pytest.param("BEARER   psk_abc  ", "psk_abc", id="spaces"),
        pytest.param("Bearer anything", "anything", id="not-ours-still-a-token"),
        pytest.param("Basic dXNlcjpwYXNz", None, id="basic"),
        pytest.param("Bearer", None, id="no-token"),
        pytest.param("Bearer ", None, id="empty-token"),
        pytest.param("Bearer a b", None, id="two-words"),
        pytest.param("Bearer " + "a" * 201, None, id="overlong"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="missing"),
        pytest.param("Bearerpsk_abc", None, id="no-space"),
    ],
)
def test_the_bearer_header(header: str | None, token: str | None) -> None:
    assert rules.bearer_token(header) == token


@pytest.mark.parametrize(
    ("given", "scopes"),
    [
        pytest.param(["read", "send"], ("send", "read"), id="in-canonical-order"),
        pytest.param(["send", "send"], ("send",), id="repeated"),
        pytest.param(list(rules.SCOPES), rules.SCOPES, id="all"),
    ],
)
def test_scopes_are_parsed(given: list[str], scopes: tuple[str, ...]) -> None:
    assert rules.parse_scopes(given) == scopes


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        pytest.param([], "at least one scope", id="none"),
        pytest.param(["send", "write"], "unknown scope 'write'", id="unknown"),
        pytest.param(["SEND"], "unknown scope 'SEND'", id="case"),
        pytest.param([1], "unknown scope 1", id="not-text"),
    ],
)
def test_wrong_scopes_are_named(given: list[object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        rules.parse_scopes(given)


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        pytest.param("POST", "/api/v2/messages", "send", id="send"),
        pytest.param("GET", "/api/v2/messages", "read", id="list-messages"),
        pytest.param("GET", "/api/v2/messages/{message_id}", "read", id="one-message"),
        pytest.param("HEAD", "/api/v2/messages", "read", id="head-is-get"),
        pytest.param("POST", "/api/v2/media", "send", id="upload-media"),
        pytest.param("GET", "/api/v2/media/{media_id}", "read", id="read-media"),
        pytest.param("GET", "/api/v2/events", "read", id="events"),
        pytest.param("GET", "/api/v2/conversations", "conversations", id="conversations-read"),
        pytest.param("POST", "/api/v2/conversations/{conversation_id}/messages", "conversations", id="reply"),
        pytest.param("POST", "/api/v2/calls", "conversations", id="calls"),
        pytest.param("GET", "/api/v2/transports", "admin", id="transports"),
        pytest.param("PUT", "/api/v2/numbers/{number}/settings", "admin", id="numbers"),
        pytest.param("DELETE", "/api/v2/blocklist/{number}", "admin", id="unblock"),
        pytest.param("POST", "/api/v2/blocklist", "send", id="block"),
        pytest.param("POST", "/api/v2/campaigns/{campaign_id}/start", "send", id="start-campaign"),
        pytest.param("GET", "/api/v2/lists/{list_id}/entries", "read", id="list-entries"),
        pytest.param("POST", "/api/v2/api-keys", "admin", id="keys"),
        pytest.param("GET", "/api/v2/api-keys", "admin", id="list-keys"),
        pytest.param("POST", "/api/v2/whatsapp/templates/preview", "send", id="template-preview"),
        pytest.param("POST", "/api/v2/whatsapp/templates/sync", "admin", id="template-sync"),
        pytest.param("GET", "/api/v2/whatsapp/templates", "read", id="templates"),
        pytest.param("GET", "/api/v2/somewhere-new", "admin", id="unknown-fails-closed"),
        pytest.param("PUT", "/api/v2/messages", "admin", id="unknown-method-fails-closed"),
        pytest.param("GET", "/api/v2/messagesX", "admin", id="prefix-is-a-whole-segment"),
    ],
)
def test_the_scope_of_a_route(method: str, path: str, scope: str) -> None:
    assert rules.scope_for(method, path) == scope


def test_unknown_routes_are_told_apart_from_known_ones() -> None:
    assert rules.is_known_route("POST", "/api/v2/messages")
    assert not rules.is_known_route("PUT", "/api/v2/messages")
    assert not rules.is_known_route("GET", "/api/v2/somewhere-new")


def test_every_scope_of_the_table_is_a_scope() -> None:
    assert {scope for _, by_method in rules.ROUTE_SCOPES for scope in by_method.values()} <= set(rules.SCOPES)
