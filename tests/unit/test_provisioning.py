"""Checking a provisioning document: every problem named by entry and field."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from parley.core.licenses import License
from parley.core.provisioning import ProvisioningError, parse
from tests.support.provisioning import document

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "parley.example.toml"  # a copy of the contract


def test_the_contract_example_file_is_accepted() -> None:
    spec = parse(tomllib.loads(EXAMPLE.read_text()))
    assert [u.extension for u in spec.users] == ["101", "102"]
    assert spec.users[0].license is License.BUSINESS
    assert {t.role for t in spec.transports} == {"curl", "gsm", "carrier"}
    assert spec.transports[1].gateway_id == "9c7514330001"
    assert spec.mail2sms == {"enabled": True, "password": "wildix", "allowed_senders": []}


def _problems(**overrides: object) -> list[str]:
    with pytest.raises(ProvisioningError) as caught:
        parse(document(**overrides))
    return caught.value.problems


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            {"users": [document()["users"][0], {**document()["users"][1], "license": "gold"}]},
            'users[1].license: "gold" is not one of basic, essential, business, premium',
            id="unknown-license",
        ),
        pytest.param(
            {"users": [{**document()["users"][0], "office_number": "12"}]},
            "users[0].office_number:",
            id="bad-office-number",
        ),
        pytest.param({"pbx": {"country": "XX"}}, 'pbx.country: "XX" is not an ISO 3166 country code', id="country"),
        pytest.param(
            {"mail2sms": {"password": "wildix", "allowed_senders": ["*@example.com", "example.org"]}},
            'mail2sms.allowed_senders: "example.org" is not an address pattern',
            id="mail2sms-sender-pattern",
        ),
        pytest.param({"pbx": {"timezone": "Mars/Base"}}, 'pbx.timezone: "Mars/Base" is not a known time zone', id="tz"),
        pytest.param(
            {"services": [{"name": "Sales", "static_members": ["999"]}]},
            'services[0].static_members: "999" is not a user in this file',
            id="unknown-member",
        ),
        pytest.param(
            {"numbers": [{"number": "+15551230001", "linked_service": "Nope"}]},
            'numbers[0].linked_service: "Nope" is not a service in this file',
            id="unknown-service",
        ),
        pytest.param(
            {"transports": [{"name": "gw", "role": "gsm", "kind": "smpp", "host": "h", "system_id": "s"}]},
            "transports[0].id: is required for a GSM gateway",
            id="gsm-without-id",
        ),
        pytest.param(
            {"transports": [{"name": "x", "role": "fax"}]},
            'transports[0].role: "fax" is not one of curl, gsm, carrier',
            id="bad-role",
        ),
        pytest.param(
            {"prices": [{"prefix": "1", "price": "abc", "currency": "USD"}]},
            'prices[0].prefix: "1" must be + followed by digits',
            id="bad-prefix",
        ),
        pytest.param(
            {"prices": [{"prefix": "+1", "price": "0.0079", "currency": "USD", "mms_price": "-0.02"}]},
            "prices[0].mms_price: '-0.02' is not a price",
            id="negative-mms-price",
        ),
        pytest.param(
            {"prices": [{"prefix": "+1", "price": "0.0079", "currency": "USD", "mms_price": True}]},
            "prices[0].mms_price: True is not a price",
            id="mms-price-not-a-number",
        ),
        pytest.param({"colours": {}}, "colours: unknown section", id="unknown-section"),
        pytest.param(
            {"numbers": [{"number": "+18005550100", "verification": "verified"}]},
            "numbers[0].verification: is for a toll-free number (toll_free = true)",
            id="verification-without-toll-free",
        ),
        pytest.param(
            {"numbers": [{"number": "+18005550100", "toll_free": True, "unverified_sending": "maybe"}]},
            'numbers[0].unverified_sending: "maybe" is not one of allow, limit, refuse',
            id="toll-free-policy",
        ),
        pytest.param(
            {"numbers": [{"number": "+18005550100", "toll_free": True, "business": {"ceo": "Kim"}}]},
            "numbers[0].business.ceo: is not one of business_name",
            id="toll-free-business-field",
        ),
        pytest.param(
            {"numbers": [{"number": "+15551230001", "fallback": "sms"}]},
            "numbers[0].fallback: falling back to SMS is for a number with whatsapp = true",
            id="fallback-without-whatsapp",
        ),
        pytest.param(
            {
                "bots": [
                    {"name": "Night", "message": "Closed", "whatsapp_template": {"name": "closed", "variables": [1]}}
                ]
            },
            "bots[0].whatsapp_template.variables[0]: must be a text",
            id="bot-template-variable",
        ),
    ],
)
def test_a_wrong_entry_is_named_with_its_field(overrides: dict[str, object], expected: str) -> None:
    assert any(p.startswith(expected) for p in _problems(**overrides)), _problems(**overrides)


def test_every_problem_in_a_file_is_reported_at_once() -> None:
    users = document()["users"]
    problems = _problems(
        users=[{**users[0], "license": "gold"}, {**users[1], "extension": users[0]["extension"]}],
        prices=[{"prefix": "+1", "price": -1, "currency": "dollars"}],
    )
    assert len(problems) >= 4
    assert 'users[1].extension: "101" is given twice' in problems


TWILIO = {
    "name": "twilio",
    "role": "carrier",
    "kind": "twilio",
    "account_sid": "AC" + "0" * 32,
    "auth_token": "token",
}
TELNYX = {"name": "telnyx", "role": "carrier", "kind": "telnyx", "api_key": "KEY1", "public_key": "A" * 43 + "="}


def test_http_carriers_and_a_numbers_carrier_are_read() -> None:
    spec = parse(
        document(
            transports=[TWILIO, {**TELNYX, "messaging_profile_id": "mp-1", "api_base": "http://127.0.0.1:9/"}],
            numbers=[{"number": "+15551230001", "mms": True, "carrier": "twilio"}],
        )
    )
    twilio, telnyx = spec.transports
    assert twilio.config == {
        "account_sid": TWILIO["account_sid"],
        "auth_token": "token",
        "api_base": "https://api.twilio.com",
    }
    assert telnyx.config["api_base"] == "http://127.0.0.1:9"
    assert telnyx.config["messaging_profile_id"] == "mp-1"
    assert spec.numbers[0].carrier == "twilio"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            {"transports": [{**TWILIO, "account_sid": "XY1"}]}, "transports[0].account_sid: must be", id="sid"
        ),
        pytest.param(
            {"transports": [{**TWILIO, "role": "gsm", "id": "aa"}]}, "transports[0].role: a twilio", id="role"
        ),
        pytest.param(
            {"transports": [{**TELNYX, "public_key": "short"}]}, "transports[0].public_key: must be", id="key"
        ),
        pytest.param({"transports": [{**TELNYX, "api_base": "ftp://x"}]}, "transports[0].api_base:", id="api-base"),
        pytest.param({"transports": [{**TWILIO, "auth_token": ""}]}, "transports[0].auth_token: must not", id="token"),
        pytest.param(
            {"numbers": [{"number": "+15551230001", "carrier": "nope"}]},
            'numbers[0].carrier: "nope" is not a carrier transport in this file',
            id="unknown-carrier",
        ),
    ],
)
def test_a_wrong_carrier_entry_is_named_with_its_field(overrides: dict[str, object], expected: str) -> None:
    assert any(p.startswith(expected) for p in _problems(**overrides)), _problems(**overrides)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param({}, None, id="absent"),
        pytest.param({"mms_price": "0.0200"}, Decimal("0.0200"), id="string-kept-exact"),
        pytest.param({"mms_price": 0.02}, Decimal("0.02"), id="toml-float-read-by-its-text"),
        pytest.param({"mms_price": 0}, Decimal(0), id="zero"),
    ],
)
def test_a_price_may_carry_an_mms_price(given: dict[str, object], expected: Decimal | None) -> None:
    spec = parse(document(prices=[{"prefix": "+1", "price": "0.0079", "currency": "USD", **given}]))
    assert spec.prices[0].mms_price == expected
    assert spec.prices[0].price == Decimal("0.0079")


WHATSAPP = {
    "name": "wa-main",
    "role": "whatsapp",
    "kind": "whatsapp",
    "number": "+15551230001",
    "phone_number_id": "1234567890",
    "waba_id": "9876543210",
    "access_token": "EAAG-token",
    "app_secret": "app-secret",
    "verify_token": "verify-me",
}
WA_NUMBER = {"number": "+15551230001", "whatsapp": True, "linked_service": "Support"}


def test_a_whatsapp_number_and_its_transport_are_read_together() -> None:
    spec = parse(document(numbers=[WA_NUMBER], transports=[WHATSAPP]))
    [transport] = spec.transports
    assert (transport.role, transport.kind) == ("whatsapp", "whatsapp")
    assert transport.config["number"] == "+15551230001"
    assert transport.config["api_base"] == "https://graph.facebook.com/v21.0"
    assert transport.config["rate"] == 80  # messages per second: Meta's default throughput
    assert spec.numbers[0].whatsapp is True
    [slow] = parse(document(numbers=[WA_NUMBER], transports=[{**WHATSAPP, "rate": 5}])).transports
    assert slow.config["rate"] == 5


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            {"numbers": [WA_NUMBER]},
            'numbers[0].whatsapp: no [[transports]] with kind = "whatsapp" serves +15551230001',
            id="number-without-transport",
        ),
        pytest.param(
            {"transports": [WHATSAPP]},
            "transports[0].number: +15551230001 is not a [[numbers]] entry with whatsapp = true",
            id="transport-without-number",
        ),
        pytest.param(
            {"numbers": [WA_NUMBER], "transports": [{**WHATSAPP, "role": "carrier"}]},
            'transports[0].role: a WhatsApp transport has role = "whatsapp"',
            id="wrong-role",
        ),
        pytest.param(
            {"numbers": [WA_NUMBER], "transports": [{**WHATSAPP, "phone_number_id": "abc"}]},
            "transports[0].phone_number_id: must be the numeric id",
            id="phone-number-id",
        ),
        pytest.param(
            {"numbers": [WA_NUMBER], "transports": [{**WHATSAPP, "rate": 0}]},
            "transports[0].rate",
            id="rate-below-one",
        ),
        pytest.param(
            {"numbers": [WA_NUMBER], "transports": [{**WHATSAPP, "app_secret": ""}]},
            "transports[0].app_secret: must not be empty",
            id="no-app-secret",
        ),
    ],
)
def test_a_wrong_whatsapp_entry_is_named_with_its_field(overrides: dict[str, object], expected: str) -> None:
    assert any(p.startswith(expected) for p in _problems(**overrides)), _problems(**overrides)
