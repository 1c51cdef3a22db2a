"""Secrets never reach a log line: the shapes they travel in are masked."""

from __future__ import annotations

import pytest

from parley.core.redaction import is_secret_key, redact

SECRET = "TopSecret99"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"Authorization: Basic {SECRET}", id="authorization-header"),
        pytest.param(f"[('authorization', 'Bearer {SECRET}')]", id="header-tuple"),
        pytest.param(f'{{"Authorization": "Digest {SECRET}"}}', id="header-dict"),
        pytest.param(f"curl -u acct:{SECRET} --url http://sms.example/send", id="curl-u"),
        pytest.param(f"curl --user=acct:{SECRET} http://sms.example/send", id="curl-user"),
        pytest.param(f"http://acct:{SECRET}@sms.example/send", id="url-userinfo"),
        pytest.param(f"http://sms.example/send?user=acct&password={SECRET}&to=1", id="query-password"),
        pytest.param(f"SENDSMS: TRUE\nSMSPASSWORD: {SECRET}\nMESSAGE: hi", id="mail2sms-line"),
        pytest.param(f"{{'token': '{SECRET}'}}", id="repr-of-a-dict"),
        pytest.param(f'{{"api_key": "{SECRET}"}}', id="json"),
        pytest.param(f"twilio_auth_token={SECRET}", id="auth-token"),
    ],
)
def test_a_secret_inside_text_is_masked(text: str) -> None:
    assert SECRET not in redact(text)


def test_ordinary_text_is_left_alone() -> None:
    line = "dispatch.failed message=0192ab transport=carrier reason='HTTP 503: busy' retry=True"
    assert redact(line) == line


@pytest.mark.parametrize("key", ["password", "smspassword", "auth_token", "secret", "Authorization", "api_key"])
def test_fields_named_like_secrets_are_secret(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["message", "transport", "extension", "event", "tokens_left"])
def test_other_fields_are_not(key: str) -> None:
    assert not is_secret_key(key)


KEY_SECRET = "psk_" + "Ab3-_x" * 7  # the shape of an API key's secret (core.api_keys)
KEY_SID = "SK" + "0123456789abcdef" * 2


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"Authorization: Bearer {KEY_SECRET}", id="bearer-header"),
        pytest.param(f"<Request headers={{'x': 'Bearer {KEY_SECRET}'}}>", id="bearer-anywhere"),
        pytest.param(f"curl -H 'authorization:bearer {KEY_SECRET}' http://parley/api/v2/messages", id="bearer-curl"),
        pytest.param(f"basic credentials {KEY_SID}:{KEY_SECRET} refused", id="sid-and-secret"),
        pytest.param(f"https://{KEY_SID}:{KEY_SECRET}@parley.example/2010-04-01/", id="sid-in-url"),
        pytest.param(f"body={{'name': 'crm', 'pasted': '{KEY_SECRET}'}}", id="secret-alone"),
        pytest.param(f'{{"id": "{KEY_SID}", "secret": "{KEY_SECRET}"}}', id="created-key-answer"),
    ],
)
def test_an_api_keys_secret_is_masked(text: str) -> None:
    redacted = redact(text)
    assert KEY_SECRET not in redacted
    assert KEY_SECRET[4:20] not in redacted  # not even a part of it


def test_a_key_sid_alone_is_not_a_secret() -> None:
    line = f"api_keys.revoked key={KEY_SID} by=101"
    assert redact(line) == line
