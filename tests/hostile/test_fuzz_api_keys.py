"""The Authorization header as API keys read it (issue 13 §2), fuzzed: the pure parsers, then a real server.

`core.api_keys.bearer_token` and `ingress.basic_auth.basic_pair` read anything a client sends; neither raises,
and what they return is one token (no whitespace, bounded) or one pair. Through `parley serve` on PostgreSQL
(which refuses a NUL in text), no header value is a server error: each is 401, or 429 once the address has
failed too often (or uvicorn's 400 for a header its HTTP parser refuses).
"""

from __future__ import annotations

import base64

import httpx
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from parley.core.api_keys import MAX_SECRET_LENGTH, SECRET_PREFIX, bearer_token, could_be_secret, is_key_sid
from parley.ingress.basic_auth import basic_pair
from tests.hostile.test_fuzz_parsers import FUZZ
from tests.support.server import ParleyServer

latin1 = st.text(st.characters(max_codepoint=255), max_size=300)
schemes = st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "Token", "", "Bearer\t"])
tokens = st.text(st.characters(codec="ascii", exclude_categories=["Cc", "Zs"]), min_size=1, max_size=MAX_SECRET_LENGTH)


def request_with(header: str) -> Request:
    return Request(
        {"type": "http", "method": "GET", "path": "/", "headers": [(b"authorization", header.encode("latin-1"))]}
    )


@FUZZ
@given(latin1)
def test_any_header_gives_no_token_or_one_bounded_token(header: str) -> None:
    token = bearer_token(header)
    if token is not None:
        assert token and len(token) <= MAX_SECRET_LENGTH
        assert not any(c.isspace() for c in token)
        assert token in header


@FUZZ
@given(schemes, latin1)
def test_any_scheme_and_value_parse_without_raising(scheme: str, value: str) -> None:
    header = f"{scheme} {value}"
    token = bearer_token(header)
    if scheme.strip().lower() != "bearer":
        assert token is None
    pair = basic_pair(request_with(header))
    if pair is not None:
        assert pair[0] and pair[0].isprintable()


@FUZZ
@given(tokens, st.sampled_from(["Bearer", "bearer", "bEaReR"]), st.text(" \t", max_size=3))
def test_a_bearer_token_is_read_back_whatever_the_case_and_spaces(token: str, scheme: str, pad: str) -> None:
    assert bearer_token(f"{pad}{scheme} {pad}{token}{pad}") == token


@FUZZ
@given(st.text(max_size=80))
def test_only_our_shape_could_be_a_secret(value: str) -> None:
    if could_be_secret(value):
        assert value.startswith(SECRET_PREFIX) and value.isascii() and value.isprintable()


@FUZZ
@given(st.binary(max_size=200))
def test_any_basic_credentials_bytes_parse_without_raising(raw: bytes) -> None:
    pair = basic_pair(request_with("Basic " + base64.b64encode(raw).decode()))
    if pair is not None:
        user, _ = pair
        assert user.isprintable() and ":" not in user
        if is_key_sid(user):
            assert len(user) == 34


ZERO_SID = "SK" + "0" * 32
authorization_values = st.one_of(
    st.builds(lambda scheme, value: f"{scheme} {value}", schemes, latin1),
    st.builds(lambda raw: "Basic " + base64.b64encode(raw).decode(), st.binary(max_size=120)),
    st.builds(lambda secret: "Basic " + base64.b64encode(f"{ZERO_SID}:{secret}".encode()).decode(), latin1),
    st.builds(lambda body: f"Bearer {SECRET_PREFIX}{body}", st.text(max_size=60)),
)


@FUZZ
@given(authorization_values)
def test_no_authorization_header_is_a_server_error(pg_server: ParleyServer, header: str) -> None:
    try:
        raw = header.encode("latin-1")
    except UnicodeEncodeError:
        return  # not a header an HTTP client can send
    with httpx.Client(base_url=pg_server.url, timeout=30) as http:
        try:
            answer = http.get("/api/v2/messages", headers=[(b"authorization", raw)])
        except httpx.LocalProtocolError:
            return  # h11 will not send it (a control character, trailing space): no server sees it either
    # 400: uvicorn's own answer to a header h11 refuses on the server side, before the application
    assert answer.status_code in (400, 401, 429), answer.text
