"""Credentials in a curl command are masked when shown and kept when a masked command is saved (issue 10)."""

from __future__ import annotations

import pytest

from parley.channels.curl_command import parse_curl
from parley.services.transport_secrets import MASK, MaskMismatch, mask, secrets_in, unmask

CASES = [
    pytest.param("curl -u parley:s3cret https://sms.example/send?to={TO_NUMBER}&text={MESSAGE}", ["s3cret"], id="-u"),
    pytest.param("curl -k --user=parley:s3cret 'https://sms.example/?to={TO_NUMBER}&text={MESSAGE}'", ["s3cret"],
                 id="--user="),
    pytest.param("curl --insecure -uparley:s3cret 'https://sms.example/?to={TO_NUMBER}&text={MESSAGE}'", ["s3cret"],
                 id="-uVALUE after a flag"),
    pytest.param("curl -H 'Authorization: Bearer tok-123' -d 'to={TO_NUMBER}&text={MESSAGE}' https://sms.example/",
                 ["tok-123"], id="bearer"),
    pytest.param("curl -H 'X-Api-Key: k-9' -H 'Accept: application/json' -d 'to={TO_NUMBER}&text={MESSAGE}' "
                 "https://sms.example/", ["k-9"], id="api-key header"),
    pytest.param("curl 'https://parley:pw-6@sms.example/send?api_key=ky-4&to={TO_NUMBER}&text={MESSAGE}'",
                 ["pw-6", "ky-4"], id="url"),
    pytest.param("curl -d 'password=pw-1&to={TO_NUMBER}&text={MESSAGE}&auth_token=tk-2' https://sms.example/",
                 ["pw-1", "tk-2"], id="form data"),
    pytest.param("""curl -H 'Content-Type: application/json' -d '{"to": "{TO_NUMBER}", "text": "{MESSAGE}", """
                 """"secret": "sc-3"}' https://sms.example/""", ["sc-3"], id="json data"),
    pytest.param("curl --data-urlencode 'token=tk-5' --data-urlencode 'text={MESSAGE}' "
                 "'https://sms.example/?to={TO_NUMBER}'", ["tk-5"], id="data-urlencode"),
]  # fmt: skip


@pytest.mark.parametrize(("command", "secrets"), CASES)
def test_every_credential_is_masked_and_the_command_still_parses(command: str, secrets: list[str]) -> None:
    assert secrets_in(command) == secrets
    shown = mask(command)
    assert all(secret not in shown for secret in secrets)
    assert shown.count(MASK) == len(secrets)
    parse_curl(shown)


@pytest.mark.parametrize(("command", "secrets"), CASES)
def test_a_masked_command_saved_unchanged_gets_its_secrets_back(command: str, secrets: list[str]) -> None:
    restored = unmask(mask(command), command)
    assert secrets_in(restored) == secrets
    assert parse_curl(restored) == parse_curl(command)


def test_a_command_without_credentials_is_shown_as_it_is() -> None:
    command = "curl 'https://sms.example/?to={TO_NUMBER}&text={MESSAGE}'"
    assert mask(command) == command
    assert unmask(command, "curl -u a:b https://other.example/") == command


def test_an_edited_url_keeps_the_stored_password() -> None:
    stored = "curl -u parley:s3cret 'https://old.example/?to={TO_NUMBER}&text={MESSAGE}'"
    edited = mask(stored).replace("old.example", "new.example")
    restored = parse_curl(unmask(edited, stored))
    assert restored.auth == ("parley", "s3cret")
    assert restored.url.startswith("https://new.example/")


def test_a_new_password_typed_in_full_replaces_the_stored_one() -> None:
    stored = "curl -u parley:s3cret https://sms.example/?to={TO_NUMBER}&text={MESSAGE}"
    typed = stored.replace("s3cret", "n3w")
    assert unmask(typed, stored) == typed


def test_masks_that_no_longer_match_the_stored_secrets_are_refused() -> None:
    stored = "curl -u parley:s3cret https://sms.example/?to={TO_NUMBER}&text={MESSAGE}"
    extra = mask(stored) + f" -H 'X-Api-Key: {MASK}'"
    with pytest.raises(MaskMismatch):
        unmask(extra, stored)
