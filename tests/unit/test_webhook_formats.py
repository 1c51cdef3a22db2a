"""Inbound webhooks: Twilio and generic JSON forms, their signatures, and the URL behind a proxy."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.channels.webhook_formats import (
    InboundWebhook,
    WebhookError,
    generic_signature,
    parse_generic,
    parse_twilio,
    public_url,
    twilio_signature,
    verify_generic,
    verify_twilio,
)

# Twilio's published example (request-validation docs; the same vector in twilio-python, -php and -csharp tests).
TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_the_signature_matches_twilios_published_example() -> None:
    assert twilio_signature(URL, PARAMS, TOKEN) == SIGNATURE


def test_a_repeated_parameter_signs_each_distinct_value_sorted_as_twilios_sdks_do() -> None:
    repeated = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]
    assert twilio_signature(URL, repeated, TOKEN) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="  # twilio-python's vector


def test_the_signature_is_hmac_sha1_over_the_url_and_sorted_names_and_values() -> None:
    params = [("To", "+15551230002"), ("Body", "a+b & c=ü"), ("From", "+15551230001")]
    data = "https://p.example/hook?x=1" + "Body" + "a+b & c=ü" + "From" + "+15551230001" + "To" + "+15551230002"
    expected = base64.b64encode(hmac.new(b"s3cret", data.encode(), hashlib.sha1).digest()).decode()
    assert twilio_signature("https://p.example/hook?x=1", params, "s3cret") == expected


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        pytest.param(URL, SIGNATURE, id="documented"),
        pytest.param(URL, "kvajT1Ptam85bY51eRf/AJRuM3w=", id="signed-with-443-received-without"),
        pytest.param(
            "https://mycompany.com:443/myapp.php?foo=1&bar=2", SIGNATURE, id="signed-without-443-received-with"
        ),
        pytest.param("http://mycompany.com/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4=", id="signed-with-80"),
        pytest.param("https://mycompany.com:1234/myapp.php?foo=1&bar=2", SIGNATURE, id="port-removed"),
        pytest.param("https://mycompany.com:1234/myapp.php?foo=1&bar=2", "CYn1h0gLBdNxDGkKJg6hYohgeD8=", id="own-port"),
        pytest.param(
            "https://MyCompany.com/myapp.php?foo=1&bar=2", "g9IN/x4Cft2g517EjYvEvM/W7LU=", id="host-case-kept"
        ),
        pytest.param(
            "http://username:password@MyCompany.com/myapp.php?foo=1&bar=2",
            "PJ08CxXr7KLPjEQCTc8LkUSMwSM=",
            id="credentials-kept",
        ),
        pytest.param(URL, f"  {SIGNATURE} ", id="header-whitespace"),
    ],
)
def test_twilio_signatures_verify_with_or_without_the_port(url: str, signature: str) -> None:
    # Vectors from twilio-csharp's RequestValidatorTest.
    assert verify_twilio(url, PARAMS, TOKEN, signature) is True


@pytest.mark.parametrize(
    ("url", "params", "token", "signature"),
    [
        pytest.param(URL, {**PARAMS, "Digits": "9999"}, TOKEN, SIGNATURE, id="tampered-parameter"),
        pytest.param(URL, {**PARAMS, "Extra": "1"}, TOKEN, SIGNATURE, id="added-parameter"),
        pytest.param(URL + "&x=1", PARAMS, TOKEN, SIGNATURE, id="other-query"),
        pytest.param("https://MyCompany.com/myapp.php?foo=1&bar=2", PARAMS, TOKEN, SIGNATURE, id="other-host-case"),
        pytest.param("http://mycompany.com/myapp.php?foo=1&bar=2", PARAMS, TOKEN, SIGNATURE, id="other-scheme"),
        pytest.param(URL, PARAMS, "54321", SIGNATURE, id="other-token"),
        pytest.param(URL, PARAMS, "", twilio_signature(URL, PARAMS, ""), id="empty-token-never-verifies"),
        pytest.param(URL, PARAMS, TOKEN, "", id="empty-signature"),
        pytest.param(URL, PARAMS, TOKEN, None, id="missing-signature"),
        pytest.param(URL, PARAMS, TOKEN, "invalid 王", id="non-ascii-signature"),
        pytest.param(URL, PARAMS, TOKEN, SIGNATURE.lower(), id="case-matters-in-base64"),
    ],
)
def test_twilio_signatures_that_do_not_match_are_refused(
    url: str, params: dict[str, str], token: str, signature: str | None
) -> None:
    assert verify_twilio(url, params, token, signature) is False


@given(st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=6), st.text(min_size=1))
def test_any_parameters_verify_against_their_own_signature_in_any_order(params: dict[str, str], token: str) -> None:
    signature = twilio_signature("https://h.example/in", params, token)
    assert verify_twilio("https://h.example/in", list(reversed(params.items())), token, signature)


# -- the URL behind a proxy ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "trust_proxy", "expected"),
    [
        pytest.param({}, True, "http://10.0.0.5:8080/hooks/twilio?n=1", id="no-proxy-headers"),
        pytest.param(
            {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.com"},
            False,
            "http://10.0.0.5:8080/hooks/twilio?n=1",
            id="proxy-not-trusted",
        ),
        pytest.param(
            {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.com"},
            True,
            "https://sms.example.com/hooks/twilio?n=1",
            id="x-forwarded",
        ),
        pytest.param(
            {"x-forwarded-proto": "HTTPS, http", "x-forwarded-host": "sms.example.com, inner.lan"},
            True,
            "https://sms.example.com/hooks/twilio?n=1",
            id="lists-take-the-first-any-case",
        ),
        pytest.param(
            {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.com", "X-Forwarded-Port": "8443"},
            True,
            "https://sms.example.com:8443/hooks/twilio?n=1",
            id="forwarded-port",
        ),
        pytest.param(
            {"X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"},
            True,
            "https://10.0.0.5/hooks/twilio?n=1",
            id="default-port-left-out",
        ),
        pytest.param(
            {"Forwarded": 'for=192.0.2.60;proto=https;host="sms.example.com:8443", for=10.0.0.1;proto=http'},
            True,
            "https://sms.example.com:8443/hooks/twilio?n=1",
            id="rfc-7239-first-element",
        ),
        pytest.param(
            {"Forwarded": "Proto=https; Host=sms.example.com", "X-Forwarded-Host": "other.example.com"},
            True,
            "https://sms.example.com/hooks/twilio?n=1",
            id="rfc-7239-before-x-forwarded",
        ),
        pytest.param(
            {"Forwarded": "for=192.0.2.60", "X-Forwarded-Proto": "https"},
            True,
            "https://10.0.0.5:8080/hooks/twilio?n=1",
            id="rfc-7239-without-proto-or-host",
        ),
    ],
)
def test_the_public_url_is_rebuilt_from_trusted_proxy_headers(
    headers: dict[str, str], trust_proxy: bool, expected: str
) -> None:
    assert public_url("http", "10.0.0.5:8080", "/hooks/twilio", "n=1", headers, trust_proxy) == expected


def test_a_url_without_a_query_has_no_question_mark() -> None:
    assert (
        public_url("https", "sms.example.com", "/hooks/twilio", "", {}, False) == "https://sms.example.com/hooks/twilio"
    )


def test_a_request_through_a_proxy_verifies_against_the_rebuilt_url() -> None:
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "mycompany.com"}
    url = public_url("http", "127.0.0.1:8080", "/myapp.php", "foo=1&bar=2", headers, trust_proxy=True)
    assert verify_twilio(url, PARAMS, TOKEN, SIGNATURE)


# -- the Twilio form -------------------------------------------------------------------------------------------------

SMS = {
    "MessageSid": "SM0123456789abcdef0123456789abcdef",
    "AccountSid": "AC0123",
    "From": "+15551230001",
    "To": "+15551230002",
    "Body": "Hello",
    "NumMedia": "0",
    "NumSegments": "1",
    "SmsStatus": "received",
}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param(
            SMS,
            InboundWebhook("+15551230001", "+15551230002", "Hello", SMS["MessageSid"], (), "sms"),
            id="sms",
        ),
        pytest.param(
            {**SMS, "From": "whatsapp:+15551230001", "To": "whatsapp:+15551230002", "ProfileName": "Kerry"},
            InboundWebhook("+15551230001", "+15551230002", "Hello", SMS["MessageSid"], (), "whatsapp"),
            id="whatsapp-prefix-stripped",
        ),
        pytest.param(
            {**SMS, "From": "whatsapp:+15551230001", "NumMedia": "1", "MediaUrl0": "https://api.twilio.com/m/1"},
            InboundWebhook(
                "+15551230001", "+15551230002", "Hello", SMS["MessageSid"], ("https://api.twilio.com/m/1",), "whatsapp"
            ),
            id="whatsapp-with-media-stays-whatsapp",
        ),
        pytest.param(
            {**SMS, "Body": "", "NumMedia": "2", "MediaUrl0": "https://api.twilio.com/m/1", "MediaUrl1": "https://x/2"},
            InboundWebhook(
                "+15551230001",
                "+15551230002",
                "",
                SMS["MessageSid"],
                ("https://api.twilio.com/m/1", "https://x/2"),
                "mms",
            ),
            id="media-without-text-is-an-mms",
        ),
        pytest.param(
            {k: v for k, v in {**SMS, "SmsSid": "SM42"}.items() if k != "MessageSid"},
            InboundWebhook("+15551230001", "+15551230002", "Hello", "SM42", (), "sms"),
            id="older-sms-sid",
        ),
        pytest.param(
            {**SMS, "From": " 15551230001"},
            InboundWebhook("+15551230001", "+15551230002", "Hello", SMS["MessageSid"], (), "sms"),
            id="plus-eaten-by-form-encoding",
        ),
        pytest.param(
            {**SMS, "Body": "  spaced  "},
            InboundWebhook("+15551230001", "+15551230002", "  spaced  ", SMS["MessageSid"], (), "sms"),
            id="text-kept-as-sent",
        ),
    ],
)
def test_twilio_inbound_messages_are_read(params: dict[str, str], expected: InboundWebhook) -> None:
    assert parse_twilio(params) == expected


def _without(key: str) -> dict[str, str]:
    return {k: v for k, v in SMS.items() if k != key}


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        pytest.param(_without("From"), "From", "is required", id="no-from"),
        pytest.param({**SMS, "To": ""}, "To", "is required", id="empty-to"),
        pytest.param(
            {**SMS, "From": "12345"}, "From", '"12345" must start with + and the country code (E.164)', id="short"
        ),
        pytest.param(
            {**SMS, "From": "+12"}, "From", '"+12" is not a valid phone number in E.164 form', id="bad-number"
        ),
        pytest.param({**SMS, "To": "whatsapp:"}, "To", "the phone number is empty", id="bare-whatsapp-prefix"),
        pytest.param(_without("MessageSid"), "MessageSid", "is required", id="no-message-sid"),
        pytest.param({**SMS, "Body": ""}, "Body", "is empty and the message has no media", id="empty-body"),
        pytest.param(_without("Body"), "Body", "is empty and the message has no media", id="no-body"),
        pytest.param(
            {**SMS, "NumMedia": "two"}, "NumMedia", '"two" is not a whole number from 0 to 10', id="bad-num-media"
        ),
        pytest.param(
            {**SMS, "NumMedia": "2", "MediaUrl0": "https://x/1"},
            "MediaUrl1",
            "is required when NumMedia is 2",
            id="missing-media-url",
        ),
    ],
)
def test_bad_twilio_webhooks_are_refused_naming_the_field(params: dict[str, str], field: str, reason: str) -> None:
    with pytest.raises(WebhookError) as caught:
        parse_twilio(params)
    assert (caught.value.field, caught.value.reason) == (field, reason)
    assert str(caught.value) == f"{field}: {reason}"


# -- the generic JSON form -------------------------------------------------------------------------------------------

GENERIC = {"from": "+15551230001", "to": "+15551230002", "text": "Hello", "id": "gw-1"}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(GENERIC, InboundWebhook("+15551230001", "+15551230002", "Hello", "gw-1", (), "sms"), id="minimal"),
        pytest.param(
            {**GENERIC, "received_at": "2024-06-03T11:00:00+02:00", "extra": {"ignored": True}},
            InboundWebhook(
                "+15551230001", "+15551230002", "Hello", "gw-1", (), "sms", datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
            ),
            id="received-at-in-utc",
        ),
        pytest.param(
            {**GENERIC, "received_at": "2024-06-03T09:00:00Z"},
            InboundWebhook(
                "+15551230001", "+15551230002", "Hello", "gw-1", (), "sms", datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
            ),
            id="received-at-zulu",
        ),
        pytest.param(
            {**GENERIC, "id": 42, "from": "+1 (555) 123-0001"},
            InboundWebhook("+15551230001", "+15551230002", "Hello", "42", (), "sms"),
            id="numeric-id-and-written-number",
        ),
        pytest.param(
            {**GENERIC, "text": "", "media": ["https://gw.example/m/1"]},
            InboundWebhook("+15551230001", "+15551230002", "", "gw-1", ("https://gw.example/m/1",), "sms"),
            id="media-without-text",
        ),
    ],
)
def test_generic_json_messages_are_read(payload: dict[str, Any], expected: InboundWebhook) -> None:
    assert parse_generic(payload) == expected


def test_generic_numbers_in_national_form_are_read_in_the_default_region() -> None:
    message = parse_generic({**GENERIC, "from": "0612345678", "to": "+33612345679"}, default_region="FR")
    assert message.sender == "+33612345678"


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        pytest.param(["not", "an", "object"], "body", "must be a JSON object", id="not-an-object"),
        pytest.param({**GENERIC, "from": None}, "from", "is required", id="no-from"),
        pytest.param({**GENERIC, "to": 15551230002}, "to", "must be a string", id="number-as-int"),
        pytest.param(
            {**GENERIC, "to": "5551230002"},
            "to",
            '"5551230002" must start with + and the country code (E.164)',
            id="no-plus",
        ),
        pytest.param({**GENERIC, "id": ""}, "id", "is required: the sender's id for the message", id="empty-id"),
        pytest.param({**GENERIC, "id": True}, "id", "is required: the sender's id for the message", id="boolean-id"),
        pytest.param({**GENERIC, "text": ""}, "text", "is empty and the message has no media", id="empty-text"),
        pytest.param({**GENERIC, "text": 5}, "text", "must be a string", id="text-not-a-string"),
        pytest.param({**GENERIC, "media": "https://x"}, "media", "must be a list of URLs", id="media-not-a-list"),
        pytest.param(
            {**GENERIC, "received_at": "yesterday"},
            "received_at",
            '"yesterday" is not an ISO 8601 date and time, as in 2024-06-03T09:00:00Z',
            id="bad-date",
        ),
        pytest.param(
            {**GENERIC, "received_at": "2024-06-03T09:00:00"},
            "received_at",
            '"2024-06-03T09:00:00" must include a time zone offset, as in 2024-06-03T09:00:00Z',
            id="naive-date",
        ),
        pytest.param(
            {**GENERIC, "received_at": 1717405200},
            "received_at",
            "must be an ISO 8601 date and time, as in 2024-06-03T09:00:00Z",
            id="epoch-number",
        ),
    ],
)
def test_bad_generic_webhooks_are_refused_naming_the_field(payload: Any, field: str, reason: str) -> None:
    with pytest.raises(WebhookError) as caught:
        parse_generic(payload)
    assert (caught.value.field, caught.value.reason) == (field, reason)


BODY = b'{"from": "+15551230001", "to": "+15551230002", "text": "Hello", "id": "gw-1"}'


def test_the_generic_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    assert generic_signature("s3cret", BODY) == hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("secret", "body", "header", "expected"),
    [
        pytest.param("s3cret", BODY, "sha256=" + generic_signature("s3cret", BODY), True, id="valid"),
        pytest.param("s3cret", BODY, " SHA256=" + generic_signature("s3cret", BODY).upper(), True, id="any-case"),
        pytest.param("s3cret", BODY + b" ", "sha256=" + generic_signature("s3cret", BODY), False, id="body-changed"),
        pytest.param("other", BODY, "sha256=" + generic_signature("s3cret", BODY), False, id="other-secret"),
        pytest.param("s3cret", BODY, generic_signature("s3cret", BODY), False, id="no-scheme"),
        pytest.param("s3cret", BODY, "sha1=" + generic_signature("s3cret", BODY), False, id="other-scheme"),
        pytest.param("s3cret", BODY, None, False, id="missing-header"),
        pytest.param("s3cret", BODY, "sha256=ü", False, id="non-ascii-header"),
        pytest.param("", BODY, "sha256=" + generic_signature("", BODY), False, id="empty-secret-never-verifies"),
    ],
)
def test_generic_signatures_are_checked(secret: str, body: bytes, header: str | None, expected: bool) -> None:
    assert verify_generic(secret, body, header) is expected
