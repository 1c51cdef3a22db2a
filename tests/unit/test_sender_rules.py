"""Sender IDs by destination country (issue 14 §3): registered IDs, the fallback, names filtered as phishing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.licenses import License
from parley.core.outbound import OutboundError, Sender, plan
from parley.core.provisioning import ProvisioningError, parse
from parley.core.sender_rules import (
    Choice,
    CountryRule,
    SenderRefused,
    SenderRules,
    judge,
    name_warnings,
    read_filtered_names,
    read_names,
    read_rules,
)
from parley.services.sender_rules import rules_from, shipped_names
from tests.support.provisioning import document

IT_FALLBACK = CountryRule("IT", frozenset({"ACME"}), "office_number")
FR_REFUSE = CountryRule("FR", frozenset({"ACME"}), "refuse")
RULES = SenderRules({"IT": IT_FALLBACK, "FR": FR_REFUSE}, {"IT": frozenset({"federica", "marco"})})
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("to", "country", "sender_id", "office", "expected"),
    [
        pytest.param("+393331234567", "IT", "ACME", None, Choice("ACME"), id="registered"),
        pytest.param("+393331234567", "IT", "acme", None, Choice("acme"), id="registered-any-case"),
        pytest.param(
            "+393331234567",
            "IT",
            "Bob Jones",
            "+15551230001",
            Choice(
                "+15551230001",
                (
                    '+393331234567: sender ID "Bob Jones" is not registered for IT; sent from the office number '
                    "+15551230001",
                ),
            ),
            id="unregistered-falls-back",
        ),
        pytest.param("+4915112345678", "DE", "Bob Jones", None, Choice("Bob Jones"), id="no-rule"),
        pytest.param("+33612345678", "FR", "+15551230001", None, Choice("+15551230001"), id="number-needs-none"),
        pytest.param("+99912345", None, "Bob Jones", None, Choice("Bob Jones"), id="no-country"),
        pytest.param(
            "+393331234567",
            "IT",
            "Federica Ro",
            "+15551230001",
            Choice(
                "+15551230001",
                (
                    '+393331234567: sender ID "Federica Ro" is not registered for IT; sent from '
                    "the office number +15551230001",
                ),
            ),
            id="rule-before-name",
        ),
    ],
)
def test_a_country_rule_decides_the_sender(
    to: str, country: str | None, sender_id: str, office: str | None, expected: Choice
) -> None:
    assert judge(to, country, sender_id, office, RULES) == expected


@pytest.mark.parametrize(
    ("country", "office", "reason"),
    [
        pytest.param("FR", "+15551230001", "this country refuses unregistered sender IDs", id="refuse"),
        pytest.param("IT", None, "the user has no office number to send from instead", id="no-office-number"),
    ],
)
def test_an_unregistered_sender_id_may_be_refused(country: str, office: str | None, reason: str) -> None:
    with pytest.raises(SenderRefused, match=reason):
        judge("+33612345678", country, "Bob", office, RULES)


@pytest.mark.parametrize(
    ("sender_id", "name"),
    [
        pytest.param("Federica", "Federica", id="whole"),
        pytest.param("MARCO", "MARCO", id="any-case"),
        pytest.param("Marco Rossi", "Marco", id="first-word"),
        pytest.param("Marcopolo", None, id="not-a-word"),
        pytest.param("Rossi Marco", None, id="not-first"),
    ],
)
def test_given_names_are_found_whole_or_as_first_word(sender_id: str, name: str | None) -> None:
    rules = SenderRules({}, {"IT": frozenset({"federica", "marco"})})
    assert rules.filtered_name(sender_id, "IT") == name
    assert rules.filtered_name(sender_id, "DE") is None


def test_a_filtered_name_towards_italy_is_sent_with_a_warning() -> None:
    rules = SenderRules({}, {"IT": frozenset({"federica"})})
    choice = judge("+393331234567", "IT", "Federica Ro", None, rules)
    assert choice.sender == "Federica Ro"
    assert choice.warnings == (
        '+393331234567: sender ID "Federica Ro" is a given name (Federica); carriers in IT may filter it as phishing',
    )
    assert name_warnings("Federica Ro", rules) == [
        'Sender ID "Federica Ro" is a given name (Federica); carriers in IT may filter it as phishing'
    ]
    assert name_warnings("ACME", rules) == []


def test_the_shipped_italian_list_has_the_seeds_names_and_provisioning_adds_to_it() -> None:
    assert {"federica", "marco", "francesca"} <= shipped_names()["IT"]
    added = rules_from([], {"IT": ["Ornella"], "ES": ["Lucia"]})
    assert "ornella" in added.filtered_names["IT"] and "federica" in added.filtered_names["IT"]
    assert added.filtered_names["ES"] == frozenset({"lucia"})
    assert read_names(["# comment", "", " Anna  # note", "Bruno"]) == frozenset({"anna", "bruno"})


def _sender(name: str = "Bob Jones", office: str | None = "+15551230001") -> Sender:
    return Sender(2, "102", name, License.BUSINESS, office)


def test_a_plan_falls_back_refuses_and_warns_per_destination() -> None:
    planned = plan(
        sender=_sender(),
        destinations=["+393331234567", "+33612345678", "+4915112345678"],
        text="Hello",
        send_at=None,
        now=NOW,
        rules=RULES,
    )
    assert [(m.to, m.sender) for m in planned.messages] == [
        ("+393331234567", "+15551230001"),
        ("+4915112345678", "Bob Jones"),
    ]
    assert [(r.given, r.reason) for r in planned.refused] == [
        ("+33612345678", 'sender ID "Bob Jones" is not registered for FR; this country refuses unregistered sender IDs')
    ]
    assert planned.warnings == (
        '+393331234567: sender ID "Bob Jones" is not registered for IT; sent from the office number +15551230001',
    )


def test_a_plan_with_only_refused_destinations_is_refused_naming_the_number() -> None:
    with pytest.raises(OutboundError) as caught:
        plan(sender=_sender(), destinations=["+33612345678"], text="Hi", send_at=None, now=NOW, rules=RULES)
    assert caught.value.field == "number"
    assert "not registered for FR" in caught.value.reason


def test_a_company_number_as_sender_is_not_judged() -> None:
    planned = plan(sender=_sender(), destinations=["+33612345678"], text="Hi", send_at=None, now=NOW, rules=RULES,
                   sender_number="+15551230002")  # fmt: skip
    assert planned.messages[0].sender == "+15551230002" and planned.warnings == ()


def _problems(**overrides: object) -> list[str]:
    with pytest.raises(ProvisioningError) as caught:
        parse(document(**overrides))
    return caught.value.problems


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({"sender_id_rules": [{"country": "XX", "registered": ["ACME"]}]},
                     'sender_id_rules[0].country: "XX" is not an ISO 3166 country code this server knows',
                     id="unknown"),
        pytest.param({"sender_id_rules": [{"registered": ["ACME"]}]},
                     "sender_id_rules[0].country: must be an ISO 3166 country code such as IT", id="missing"),
        pytest.param({"sender_id_rules": [{"country": "IT", "otherwise": "drop"}]},
                     'sender_id_rules[0].otherwise: "drop" is not one of office_number, refuse', id="otherwise"),
        pytest.param({"sender_id_rules": [{"country": "IT", "registered": ["TOOLONGSENDER"]}]},
                     'sender_id_rules[0].registered: "TOOLONGSENDER" is longer than 11 characters, the most an '
                     "alphanumeric sender ID carries", id="too-long"),
        pytest.param({"sender_id_rules": [{"country": "IT", "registered": "ACME"}]},
                     "sender_id_rules[0].registered: must be a list of sender IDs", id="not-a-list"),
        pytest.param({"sender_id_rules": [{"country": "IT"}, {"country": "it"}]},
                     'sender_id_rules[1].country: "IT" is given twice', id="twice"),
        pytest.param({"sender_id_rules": [{"country": "IT", "registred": []}]},
                     "sender_id_rules[0].registred: unknown field", id="typo"),
        pytest.param({"sender_id_names": {"QQ": ["Anna"]}},
                     'sender_id_names.QQ: "QQ" is not an ISO 3166 country code this server knows', id="names-country"),
        pytest.param({"sender_id_names": {"IT": "Anna"}}, "sender_id_names.IT: must be a list of names",
                     id="names-list"),
    ],
)  # fmt: skip
def test_bad_sender_id_rules_are_refused_naming_the_field(overrides: dict[str, object], expected: str) -> None:
    assert expected in _problems(**overrides)


def test_sender_id_rules_are_read_from_provisioning() -> None:
    spec = parse(document(sender_id_rules=[{"country": "it", "registered": ["ACME"], "otherwise": "refuse"}],
                          sender_id_names={"IT": ["Ornella"]}))  # fmt: skip
    assert spec.sender_id_rules == (CountryRule("IT", frozenset({"ACME"}), "refuse"),)
    assert spec.sender_id_names == {"IT": ["Ornella"]}


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=14) | st.sampled_from(["IT", "fr", "refuse"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@given(st.lists(st.dictionaries(st.sampled_from(["country", "registered", "otherwise", "x"]), _VALUES), max_size=4))
def test_any_rules_table_is_read_or_refused_with_named_problems(entries: list[dict[str, object]]) -> None:
    problems: list[str] = []
    rules = read_rules(entries, problems)
    assert all(p.startswith("sender_id_rules") for p in problems)
    for rule in rules:
        assert rule.country.isupper() and rule.otherwise in ("office_number", "refuse")


@given(_VALUES)
def test_any_names_table_is_read_or_refused_with_named_problems(table: object) -> None:
    problems: list[str] = []
    found = read_filtered_names(table, problems)
    assert all(p.startswith("sender_id_names") for p in problems)
    assert all(isinstance(n, str) and n for names in found.values() for n in names)
