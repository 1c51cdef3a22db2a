"""Signatures of outbound webhooks: Parley's, and Twilio's as twilio-python's RequestValidator checks it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from parley.core.webhook_signing import (
    parley_signature,
    parse_parley_signature,
    twilio_signature,
    verify_parley_signature,
)

SECRET = "whsec_test-secret"
BODY = b'{"id":"evt_1","type":"message.status","data":{}}'


def test_parley_signature_is_hmac_sha256_of_time_dot_body() -> None:
    import hashlib
    import hmac

    header = parley_signature(SECRET, 1_700_000_000, BODY)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


@pytest.mark.parametrize(
    ("secret", "body", "now", "ok"),
    [
        pytest.param(SECRET, BODY, 1_700_000_010, True, id="fresh"),
        pytest.param("other", BODY, 1_700_000_010, False, id="wrong-secret"),
        pytest.param(SECRET, BODY + b" ", 1_700_000_010, False, id="tampered-body"),
        pytest.param(SECRET, BODY, 1_700_001_000, False, id="replayed-late"),
    ],
)
def test_verification(secret: str, body: bytes, now: int, ok: bool) -> None:
    header = parley_signature(SECRET, 1_700_000_000, BODY)
    assert verify_parley_signature(secret, header, body, now=now) is ok


@given(st.text(max_size=200))
def test_any_header_parses_or_is_refused(header: str) -> None:
    parsed = parse_parley_signature(header)
    assert parsed is None or (parsed[0] >= 0 and parsed[1])
    assert verify_parley_signature(SECRET, header, BODY, now=0) in (True, False)


@given(
    st.dictionaries(st.text(st.characters(codec="utf-8"), min_size=1, max_size=12), st.text(max_size=30), max_size=8),
    st.sampled_from(["https://crm.example.com/status?x=1", "http://127.0.0.1:8000/cb"]),
)
def test_twilio_signature_is_accepted_by_twilio_request_validator(params: dict[str, str], url: str) -> None:
    signature = twilio_signature("key-secret", url, params)
    assert RequestValidator("key-secret").validate(url, params, signature)
    assert not RequestValidator("another").validate(url, params, signature)


def test_the_readme_verification_snippet_accepts_our_signature_and_nothing_else() -> None:
    import re
    import time
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("### Outbound webhooks") :]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None
    scope: dict[str, object] = {}
    exec(code.group(1), scope)  # our own README's snippet
    verify = scope["verify"]
    header = parley_signature(SECRET, int(time.time()), BODY)
    assert verify(SECRET, header, BODY) is True  # type: ignore[operator]
    assert verify("other", header, BODY) is False  # type: ignore[operator]
    assert verify(SECRET, header, BODY + b"x") is False  # type: ignore[operator]
