"""The provisioning file (contracts/parley.example.toml): read and check it whole. Pure.

Every problem is collected and named by entry and field (``users[1].license: "gold" is not one of
basic, essential, business, premium``) so that a wrong file is refused whole, with all its faults. `parse` checks
the sections and what entries refer to across sections; each array entry is checked by its reader in
`core.provisioning_entries`, and the result is a `core.provisioning_specs.Provisioning`.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from parley.core.directory_config import read_directory
from parley.core.entry_reader import EntryReader
from parley.core.mail_senders import pattern_problem
from parley.core.provisioning_entries import (
    Names,
    read_bot,
    read_number,
    read_price,
    read_service,
    read_transport,
    read_user,
)
from parley.core.provisioning_specs import Provisioning
from parley.core.reply_links import DEFAULT_DAYS as DEFAULT_LINK_DAYS
from parley.core.reply_links import MAX_DAYS as MAX_LINK_DAYS
from parley.core.sender_rules import read_filtered_names, read_rules
from parley.core.smpp_accounts import read_smpp_account
from parley.core.transport_specs import whatsapp_problems
from parley.core.webhook_addresses import UrlRefused, parse_networks


class ProvisioningError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _entries(doc: dict[str, Any], key: str, problems: list[str]) -> list[EntryReader]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        problems.append(f"{key}: must be an array of tables ([[{key}]])")
        return []
    return [EntryReader(f"{key}[{i}]", entry, problems) for i, entry in enumerate(value)]


def _duplicates(path: str, key: str, values: list[str | None], problems: list[str]) -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value is None:
            continue
        if value in seen:
            problems.append(f'{path}[{i}].{key}: "{value}" is given twice')
        seen.add(value)


def parse(doc: dict[str, Any]) -> Provisioning:
    """Check a whole provisioning document; raise `ProvisioningError` listing every problem."""
    problems: list[str] = []
    known = {"pbx", "users", "services", "numbers", "transports", "prices", "mail2sms", "bots", "webhooks",
             "directory", "smpp_accounts"}  # fmt: skip
    known |= {"sender_id_rules", "sender_id_names"}
    problems += [f"{k}: unknown section" for k in doc if k not in known]

    pbx_reader = EntryReader("pbx", doc.get("pbx", {}), problems)
    pbx: dict[str, str | int] = {}
    country = pbx_reader.str_("country")
    if country is not None:
        if country.upper() not in phonenumbers.SUPPORTED_REGIONS:
            pbx_reader.problem("country", f'"{country}" is not an ISO 3166 country code')
        else:
            pbx["country"] = country.upper()
    timezone = pbx_reader.str_("timezone")
    if timezone is not None:
        try:
            ZoneInfo(timezone)
            pbx["timezone"] = timezone
        except (ZoneInfoNotFoundError, ValueError):
            pbx_reader.problem("timezone", f'"{timezone}" is not a known time zone')
    company_name = pbx_reader.str_("company_name")  # shown on reply links' chat pages (issue 14 §1)
    if company_name is not None:
        if not company_name or len(company_name) > 80:
            pbx_reader.problem("company_name", "must be 1 to 80 characters")
        else:
            pbx["company_name"] = company_name
    if "reply_link_days" in pbx_reader.table:  # how long reply links stay valid
        days = pbx_reader.int_("reply_link_days", DEFAULT_LINK_DAYS, minimum=1)
        if days > MAX_LINK_DAYS:
            pbx_reader.problem("reply_link_days", f"must be at most {MAX_LINK_DAYS}")
        else:
            pbx["reply_link_days"] = days
    region = str(pbx["country"]) if "country" in pbx else None

    users = [read_user(r, region) for r in _entries(doc, "users", problems)]
    _duplicates("users", "extension", [u.extension for u in users], problems)
    extensions = {u.extension for u in users}

    bots = [read_bot(r) for r in _entries(doc, "bots", problems)]
    _duplicates("bots", "name", [b.name for b in bots], problems)
    names_of = Names(extensions, {r.table.get("name") for r in _entries(doc, "services", [])}, {b.name for b in bots})

    services = [read_service(r, region, extensions, names_of) for r in _entries(doc, "services", problems)]
    _duplicates("services", "name", [s.name for s in services], problems)
    service_names = {s.name for s in services}

    numbers = [read_number(r, region, service_names, names_of) for r in _entries(doc, "numbers", problems)]
    _duplicates("numbers", "number", [n.number for n in numbers], problems)

    transports = [read_transport(r, region) for r in _entries(doc, "transports", problems)]
    _duplicates("transports", "name", [t.name for t in transports], problems)
    _duplicates("transports", "id", [t.gateway_id for t in transports], problems)
    if sum(t.role == "curl" for t in transports) > 1:
        problems.append("transports: only one curl SMS server may be configured")
    carriers = {t.name for t in transports if t.role == "carrier"}
    for i, n in enumerate(numbers):
        if n.carrier is not None and n.carrier not in carriers:
            problems.append(f'numbers[{i}].carrier: "{n.carrier}" is not a carrier transport in this file')
    problems += whatsapp_problems([(n.number, n.whatsapp) for n in numbers], [(t.kind, t.config) for t in transports])

    prices = [read_price(r) for r in _entries(doc, "prices", problems)]
    _duplicates("prices", "prefix", [p.prefix for p in prices], problems)

    mail2sms = None
    if "mail2sms" in doc:
        reader = EntryReader("mail2sms", doc["mail2sms"], problems)
        senders = list(reader.list_("allowed_senders"))
        for problem in filter(None, map(pattern_problem, senders)):
            reader.problem("allowed_senders", problem)
        mail2sms = {
            "enabled": reader.bool_("enabled", True),
            "password": reader.str_("password", required=True),
            "allowed_senders": senders,
        }

    webhooks = None
    if "webhooks" in doc:
        reader = EntryReader("webhooks", doc["webhooks"], problems)
        secret = reader.str_("secret")
        if secret is not None and len(secret) < 16:
            reader.problem("secret", "must be at least 16 characters")
        allow_private = reader.list_("allow_private")
        try:  # outbound webhooks may reach these networks although they are not public (issue 13 §1)
            parse_networks(allow_private)
        except UrlRefused as exc:
            reader.problem("allow_private", str(exc))
        webhooks = {
            "twilio_auth_token": reader.str_("twilio_auth_token"),
            "secret": secret,
            "trust_proxy": reader.bool_("trust_proxy", False),
            "allow_private": list(allow_private),
        }

    directory = read_directory(doc["directory"], problems) if "directory" in doc else None
    smpp_accounts = [read_smpp_account(r, extensions) for r in _entries(doc, "smpp_accounts", problems)]
    _duplicates("smpp_accounts", "system_id", [a.system_id for a in smpp_accounts], problems)
    sender_id_rules = read_rules(doc.get("sender_id_rules", []), problems)
    names = read_filtered_names(doc["sender_id_names"], problems) if "sender_id_names" in doc else None

    if problems:
        raise ProvisioningError(problems)
    return Provisioning(
        pbx,
        tuple(users),
        tuple(services),
        tuple(numbers),
        tuple(transports),
        tuple(prices),
        mail2sms,
        tuple(bots),
        webhooks,
        directory,
        tuple(smpp_accounts),
        sender_id_rules,
        names,
    )
