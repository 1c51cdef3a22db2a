"""The Wildix route reads urlencoded forms itself (`wildix_api.urlencoded_fields`): as Starlette's parser did."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from parley.ingress.wildix_api import MAX_FIELD_BYTES, MAX_FIELDS, urlencoded_fields

BODIES = [
    b"",
    b"number=%2B15551234567&message=Hello+world",
    b"number=+15551234567&message=caf%C3%A9%20%E2%82%AC",  # a bare + is a space, as curl -d leaves it
    b"message=a%26b%3Dc&number=1",
    b"&&number=1&&message=&",  # empty pieces, an empty value
    b"flag&number=1",  # a name without "=": an empty value
    b"=orphan&number=1",  # an empty name
    b"number=1=2",  # only the first "=" separates
    b"number=1&number=2",  # a repeated name: the last one wins
    b"message=%FF%FEbad&number=%ZZ",  # bad UTF-8 and a bad escape
    "message=caf\u00e9".encode(),  # raw UTF-8 bytes, not escaped
    b"message=a;b&number=1;2",  # ";" separates nothing
    b"message=%00nul",
]


async def _starlette(body: bytes) -> dict[str, Any]:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [(b"content-type", b"application/x-www-form-urlencoded")]
    request = Request({"type": "http", "method": "POST", "headers": headers, "query_string": b""}, receive)
    form = await request.form()
    return dict(form.items())


@pytest.mark.parametrize("body", BODIES)
async def test_a_body_reads_as_starlettes_form_parser_reads_it(body: bytes) -> None:
    assert urlencoded_fields(body) == await _starlette(body)


async def test_the_form_parsers_limits_still_hold() -> None:
    within = [b"&".join([b"a=1"] * MAX_FIELDS), b"a=" + b"x" * (MAX_FIELD_BYTES - 1)]
    for body in within:
        assert urlencoded_fields(body) == await _starlette(body)
    past = [b"&".join([b"a=1"] * (MAX_FIELDS + 1)), b"a=" + b"x" * MAX_FIELD_BYTES]
    for body, message in zip(past, ["Too many fields", "maximum size"], strict=True):
        with pytest.raises(ValueError, match=message):
            urlencoded_fields(body)
        with pytest.raises(MultiPartException, match=message):
            await _starlette(body)


_FORM_BYTES = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from([b"number", b"message", b"=", b"&", b"%", b"%2B", b"%C3%A9", b"%FF", b"+", b";", b"x"]),
             max_size=60).map(b"".join),
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_FORM_BYTES)
def test_any_body_reads_as_starlette_reads_it_or_fails_the_same_way(body: bytes) -> None:
    """Fuzzed (hypothesis): whatever the bytes, the same fields as Starlette's parser, str names and values."""
    try:
        expected: dict[str, Any] | None = asyncio.run(_starlette(body))
    except MultiPartException:
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            urlencoded_fields(body)
        return
    got = urlencoded_fields(body)
    assert got == expected
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in got.items())
