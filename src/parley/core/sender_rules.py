"""Sender IDs by destination country (issue 14 §3, seed 001). Pure.

Some countries take an alphanumeric sender ID only when it is registered with their carriers; an
unregistered one is dropped or rewritten on the way. A rule per country lists the registered IDs and
says what happens to any other: sent from the user's office number instead (``office_number``) or
refused (``refuse``). Separately, Italian carriers filter given names used as sender IDs as phishing
(seed 001: "Federica, Marco, Francesca"): a send from such a name gets a warning, not a refusal.

Only alphanumeric senders are judged: a number as sender (NANP, a conversation's company number)
needs no registration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import phonenumbers

OTHERWISE = ("office_number", "refuse")


@dataclass(frozen=True)
class CountryRule:
    """One destination country that needs a registered sender ID."""

    country: str  # ISO 3166 alpha-2, upper case
    registered: frozenset[str]  # compared case-insensitively, as carriers register them
    otherwise: str = "office_number"  # office_number | refuse

    def allows(self, sender_id: str) -> bool:
        return sender_id.casefold() in {r.casefold() for r in self.registered}


@dataclass(frozen=True)
class SenderRules:
    """The country rules and the names filtered as phishing per country (upper-case country -> names)."""

    countries: Mapping[str, CountryRule] = field(default_factory=dict)
    filtered_names: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def filtered_name(self, sender_id: str, country: str) -> str | None:
        """The given name that makes ``sender_id`` look like phishing in ``country``, or None.

        The whole ID and its first word are looked at: "Federica Ro" (made from "Federica Rossi") is
        still a person's name to a filter.
        """
        names = self.filtered_names.get(country)
        if not names or not sender_id.strip():
            return None
        first = sender_id.split()[0]
        for candidate in (sender_id.strip(), first):
            if candidate.casefold() in names:
                return candidate
        return None


@dataclass(frozen=True)
class Choice:
    """The sender chosen for one destination, and what the user should be told about it."""

    sender: str
    warnings: tuple[str, ...] = ()


class SenderRefused(ValueError):
    """The destination cannot be sent from this sender ID (its country's rule says refuse)."""


def is_alphanumeric(sender: str) -> bool:
    """A sender that is not a phone number (``+`` and digits): only those need registration."""
    plain = sender[1:] if sender.startswith("+") else sender
    return not plain.isdigit()


def judge(to: str, country: str | None, sender_id: str, office_number: str | None, rules: SenderRules) -> Choice:
    """Apply ``rules`` to an alphanumeric ``sender_id`` sent to ``to`` in ``country``.

    Raises `SenderRefused` with the reason when the country refuses it (or would fall back to an office
    number the user does not have).
    """
    if country is None or not is_alphanumeric(sender_id):
        return Choice(sender_id)
    rule = rules.countries.get(country)
    if rule is not None and not rule.allows(sender_id):
        unregistered = f'sender ID "{sender_id}" is not registered for {country}'
        if rule.otherwise == "refuse":
            raise SenderRefused(f"{unregistered}; this country refuses unregistered sender IDs")
        if not office_number:
            raise SenderRefused(f"{unregistered}, and the user has no office number to send from instead")
        return Choice(office_number, (f"{to}: {unregistered}; sent from the office number {office_number}",))
    name = rules.filtered_name(sender_id, country)
    if name is not None:
        return Choice(sender_id, (f"{to}: {_given_name(sender_id, name, country)}",))
    return Choice(sender_id)


def read_names(lines: Iterable[str]) -> frozenset[str]:
    """A names list as shipped (one a line, ``#`` comments, blank lines ignored), case-folded."""
    names = (line.split("#", 1)[0].strip() for line in lines)
    return frozenset(n.casefold() for n in names if n)


def country_problem(raw: object) -> str | None:
    """Why ``raw`` is not a country code a rule can be about, or None."""
    if not isinstance(raw, str) or not raw.strip():
        return "must be an ISO 3166 country code such as IT"
    if raw.strip().upper() not in phonenumbers.SUPPORTED_REGIONS:
        return f'"{raw}" is not an ISO 3166 country code this server knows'
    return None


def sender_id_problem(raw: str) -> str | None:
    """Why ``raw`` cannot be a registered alphanumeric sender ID, or None (3GPP TS 23.040: at most 11)."""
    if not raw.strip():
        return "must not be empty"
    if len(raw.strip()) > 11:
        return f'"{raw}" is longer than 11 characters, the most an alphanumeric sender ID carries'
    return None


def read_rule(path: str, table: object, problems: list[str]) -> CountryRule | None:
    """One `[[sender_id_rules]]` entry (or the admin form's), every problem named ``path.field``."""
    if not isinstance(table, dict):
        problems.append(f"{path}: must be a table")
        return None
    before = len(problems)
    unknown = sorted(set(table) - {"country", "registered", "otherwise"})
    problems += [f"{path}.{k}: unknown field" for k in unknown]
    country = table.get("country")
    problem = country_problem(country)
    if problem is not None:
        problems.append(f"{path}.country: {problem}")
    registered = table.get("registered", [])
    if not isinstance(registered, list) or not all(isinstance(r, str) for r in registered):
        problems.append(f"{path}.registered: must be a list of sender IDs")
        registered = []
    for r in registered:
        problem = sender_id_problem(r)
        if problem is not None:
            problems.append(f"{path}.registered: {problem}")
    otherwise = table.get("otherwise", "office_number")
    if otherwise not in OTHERWISE:
        problems.append(f'{path}.otherwise: "{otherwise}" is not one of {", ".join(OTHERWISE)}')
    if len(problems) > before:
        return None
    return CountryRule(str(country).strip().upper(), frozenset(r.strip() for r in registered), str(otherwise))


def read_rules(entries: object, problems: list[str], *, path: str = "sender_id_rules") -> tuple[CountryRule, ...]:
    """All `[[sender_id_rules]]`; a country given twice is a problem."""
    if not isinstance(entries, list):
        problems.append(f"{path}: must be an array of tables ([[{path}]])")
        return ()
    rules: list[CountryRule] = []
    seen: set[str] = set()
    for i, table in enumerate(entries):
        rule = read_rule(f"{path}[{i}]", table, problems)
        if rule is None:
            continue
        if rule.country in seen:
            problems.append(f'{path}[{i}].country: "{rule.country}" is given twice')
        seen.add(rule.country)
        rules.append(rule)
    return tuple(rules)


def read_filtered_names(table: object, problems: list[str], *, path: str = "sender_id_names") -> dict[str, list[str]]:
    """`[sender_id_names]`: country code -> given names to add to the shipped list (``IT = ["Giulia"]``)."""
    if not isinstance(table, dict):
        problems.append(f"{path}: must be a table of country = [names]")
        return {}
    found: dict[str, list[str]] = {}
    for country, names in table.items():
        problem = country_problem(country)
        if problem is not None:
            problems.append(f"{path}.{country}: {problem}")
            continue
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            problems.append(f"{path}.{country}: must be a list of names")
            continue
        found[country.strip().upper()] = sorted({n.strip() for n in names})
    return found


def name_warnings(sender_id: str, rules: SenderRules) -> list[str]:
    """For the admin's user page: each country whose carriers may filter this sender ID as a given name."""
    found = []
    for country in sorted(rules.filtered_names):
        name = rules.filtered_name(sender_id, country)
        if name is not None:
            found.append(
                f'Sender ID "{sender_id}" is a given name ({name}); carriers in {country} may filter it as phishing'
            )
    return found


def _given_name(sender_id: str, name: str, country: str) -> str:
    return f'sender ID "{sender_id}" is a given name ({name}); carriers in {country} may filter it as phishing'
