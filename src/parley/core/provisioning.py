"""The provisioning file (contracts/parley.example.toml): read and check it whole. Pure.

Every problem is collected and named by entry and field (``users[1].license: "gold" is not one of
basic, essential, business, premium``) so that a wrong file is refused whole, with all its faults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from parley.core.directory_config import DirectoryConfig, read_directory
from parley.core.entry_reader import EntryReader
from parley.core.licenses import License, names
from parley.core.mail_senders import pattern_problem
from parley.core.number_config import KEYS as CONFIG_KEYS
from parley.core.number_config import ConfigError, NumberConfig, config_to_doc, parse_config
from parley.core.reply_links import DEFAULT_DAYS as DEFAULT_LINK_DAYS
from parley.core.reply_links import MAX_DAYS as MAX_LINK_DAYS
from parley.core.routing import normalise_gateway_id
from parley.core.sender_rules import CountryRule, read_filtered_names, read_rules
from parley.core.smpp_accounts import SmppAccountSpec, read_smpp_account
from parley.core.toll_free import BUSINESS_FIELDS, DEFAULT_LIMIT, POLICIES, VERIFICATIONS, TollFree
from parley.core.transport_specs import (
    TRANSPORT_KINDS,
    TRANSPORT_ROLES,
    read_kind_config,
    read_sms_options,
    whatsapp_problems,
)
from parley.core.webhook_addresses import UrlRefused, parse_networks
from parley.core.whatsapp_rules import TemplateSpec, TemplateSpecError

ROLES = ("admin", "user")


class ProvisioningError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class UserSpec:
    extension: str
    name: str
    password: str
    license: License
    office_number: str | None
    email: str | None
    role: str
    sms_package: int


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    static_members: tuple[str, ...]
    dynamic_members: tuple[str, ...]
    sms_number: str | None
    config: dict[str, Any] | None = None  # routing, hours, out_of_hours, actions (core.number_config)


@dataclass(frozen=True)
class BotSpec:
    name: str
    message: str
    # What it sends on WhatsApp once the customer's 24-hour window is closed: {"name", "language", "variables"}.
    whatsapp_template: dict[str, Any] | None = None


@dataclass(frozen=True)
class NumberSpec:
    number: str
    sms: bool
    mms: bool
    whatsapp: bool
    linked_service: str | None
    config: dict[str, Any] | None = None
    carrier: str | None = None  # the transport that serves the number; None: the curl → GSM → carrier order
    toll_free: dict[str, Any] | None = None  # `core.toll_free.TollFree.to_doc()`; None: not toll-free


@dataclass(frozen=True)
class TransportSpec:
    name: str
    role: str
    kind: str
    gateway_id: str | None
    config: dict[str, Any]


@dataclass(frozen=True)
class PriceSpec:
    prefix: str
    price: Decimal
    currency: str
    mms_price: Decimal | None = None  # per MMS, same currency; None: MMS are not charged


@dataclass(frozen=True)
class Provisioning:
    pbx: dict[str, str | int] = field(default_factory=dict)
    users: tuple[UserSpec, ...] = ()
    services: tuple[ServiceSpec, ...] = ()
    numbers: tuple[NumberSpec, ...] = ()
    transports: tuple[TransportSpec, ...] = ()
    prices: tuple[PriceSpec, ...] = ()
    mail2sms: dict[str, Any] | None = None
    bots: tuple[BotSpec, ...] = ()
    webhooks: dict[str, Any] | None = None
    directory: DirectoryConfig | None = None  # [directory]: users synced from LDAP (core.directory_config)
    smpp_accounts: tuple[SmppAccountSpec, ...] = ()
    sender_id_rules: tuple[CountryRule, ...] = ()
    sender_id_names: dict[str, list[str]] | None = None  # country -> names added to the shipped list


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


def read_user(r: EntryReader, region: str | None) -> UserSpec:
    extension = r.str_("extension", required=True) or ""
    license_name = r.str_("license", default="basic") or "basic"
    try:
        lic = License.parse(license_name)
    except ValueError:
        r.problem("license", f'"{license_name}" is not one of {", ".join(names())}')
        lic = License.BASIC
    password = r.str_("password", required=True) or ""
    if password and len(password) < 6:
        r.problem("password", "must be at least 6 characters")
    return UserSpec(
        extension=extension,
        name=r.str_("name", required=True) or "",
        password=password,
        license=lic,
        office_number=r.number("office_number", region=region),
        email=r.str_("email"),
        role=r.choice("role", ROLES, default="user"),
        sms_package=r.int_("sms_package", 200),
    )


@dataclass(frozen=True)
class Names:
    """What routing and actions may refer to."""

    extensions: set[str]
    services: set[Any]
    bots: set[str]


def _config(r: EntryReader, names_of: Names) -> dict[str, Any] | None:
    """The conversation settings of a number or a service, with every reference checked."""
    if not any(k in r.table for k in CONFIG_KEYS):
        return None
    try:
        config = parse_config(r.table, r.path)
    except ConfigError as exc:
        r.problems.extend(exc.problems)
        return None
    _check_references(r, config, names_of)
    return config_to_doc(config)


def _check_references(r: EntryReader, config: NumberConfig, names_of: Names) -> None:
    for key, route in (("routing", config.routing), ("out_of_hours", config.out_of_hours)):
        if route is None:
            continue
        known = {"agent": names_of.extensions, "group": names_of.services, "bot": names_of.bots}[route.kind]
        what = {"agent": "a user", "group": "a service", "bot": "a bot"}[route.kind]
        if route.target not in known:
            r.problem(f"{key}.target", f'"{route.target}" is not {what} in this file')
    for i, action in enumerate(config.actions):
        task = action.task
        bot = getattr(task, "bot", None)
        if bot is not None and bot not in names_of.bots:
            r.problem(f"actions[{i}].task.bot", f'"{bot}" is not a bot in this file')
        for ext in getattr(task, "extensions", ()):
            if ext not in names_of.extensions:
                r.problem(f"actions[{i}].task.add_members", f'"{ext}" is not a user in this file')


def read_bot(r: EntryReader) -> BotSpec:
    template = r.table.get("whatsapp_template")
    if template is not None:
        try:
            template = TemplateSpec.from_doc(template, "whatsapp_template").to_doc()
        except TemplateSpecError as exc:
            r.problem(exc.field, exc.reason)
            template = None
    return BotSpec(r.str_("name", required=True) or "", r.str_("message", required=True) or "", template)


def read_service(r: EntryReader, region: str | None, extensions: set[str], names_of: Names) -> ServiceSpec:
    static, dynamic = r.list_("static_members"), r.list_("dynamic_members")
    for key, members in (("static_members", static), ("dynamic_members", dynamic)):
        for ext in members:
            if ext not in extensions:
                r.problem(key, f'"{ext}" is not a user in this file')
    return ServiceSpec(
        r.str_("name", required=True) or "",
        static,
        dynamic,
        r.number("sms_number", region=region),
        _config(r, names_of),
    )


def read_number(r: EntryReader, region: str | None, service_names: set[str], names_of: Names) -> NumberSpec:
    linked = r.str_("linked_service")
    if linked and linked not in service_names:
        r.problem("linked_service", f'"{linked}" is not a service in this file')
    if r.table.get("fallback") is not None and not r.table.get("whatsapp"):
        r.problem("fallback", "falling back to SMS is for a number with whatsapp = true")
    return NumberSpec(
        number=r.number("number", region=region, required=True) or "",
        sms=r.bool_("sms", True),
        mms=r.bool_("mms", False),
        whatsapp=r.bool_("whatsapp", False),
        linked_service=linked,
        config=_config(r, names_of),
        carrier=r.str_("carrier"),
        toll_free=read_toll_free(r),
    )


def read_toll_free(r: EntryReader) -> dict[str, Any] | None:
    """`toll_free = true` with its `verification`, `unverified_sending`, `unverified_limit` and `business` details."""
    keys = ("verification", "unverified_sending", "unverified_limit", "business")
    if not r.bool_("toll_free", False):
        for key in keys:
            if key in r.table:
                r.problem(key, "is for a toll-free number (toll_free = true)")
        return None
    business = r.table.get("business", {})
    if not isinstance(business, dict):
        r.problem("business", "must be a table of the business's details")
        business = {}
    for key, value in business.items():
        if key not in BUSINESS_FIELDS:
            r.problem(f"business.{key}", f"is not one of {', '.join(BUSINESS_FIELDS)}")
        elif not isinstance(value, str) or len(value) > 1000:
            r.problem(f"business.{key}", "must be text of at most 1,000 characters")
    state = TollFree(
        r.choice("verification", VERIFICATIONS, "unverified"),
        r.choice("unverified_sending", POLICIES, "allow"),
        r.int_("unverified_limit", DEFAULT_LIMIT, minimum=1),
        {k: v for k, v in business.items() if k in BUSINESS_FIELDS and isinstance(v, str)},
    )
    return state.to_doc()


def read_transport(r: EntryReader, region: str | None = None) -> TransportSpec:
    name = r.str_("name", required=True) or ""
    role = r.choice("role", TRANSPORT_ROLES)
    kind = r.choice("kind", TRANSPORT_KINDS, default="curl" if role == "curl" else "smpp")
    gateway_id = r.str_("id")
    if role == "gsm" and not gateway_id:
        r.problem("id", "is required for a GSM gateway (its MAC address, used by gsm=)")
    config = read_kind_config(kind, role, r, region=region) | read_sms_options(kind, r)
    throughput = r.table.get("throughput")
    if throughput is not None:
        if not isinstance(throughput, int | float) or isinstance(throughput, bool) or throughput <= 0:
            r.problem("throughput", "must be a positive number of messages per second")
        else:
            config["throughput"] = float(throughput)
    return TransportSpec(name, role, kind, normalise_gateway_id(gateway_id) if gateway_id else None, config)


def _decimal(r: EntryReader, key: str, raw: Any) -> Decimal:
    """A non-negative finite decimal; a string keeps it exact ("0.0079"), a TOML float is read by its text."""
    try:
        value = Decimal(str(raw))
        if raw is None or isinstance(raw, bool) or value < 0 or not value.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        r.problem(key, f'{raw!r} is not a price (a non-negative decimal such as "0.0079")')
        return Decimal(0)
    return value


def read_price(r: EntryReader) -> PriceSpec:
    prefix = r.str_("prefix", required=True) or ""
    if prefix and (not prefix.startswith("+") or not prefix[1:].isdigit()):
        r.problem("prefix", f'"{prefix}" must be + followed by digits')
    price = _decimal(r, "price", r.table.get("price"))
    raw_mms = r.table.get("mms_price")  # optional: without it MMS to the prefix are not charged (issue 11 §6)
    mms_price = _decimal(r, "mms_price", raw_mms) if raw_mms is not None else None
    currency = (r.str_("currency", required=True) or "").upper()
    if currency and (len(currency) != 3 or not currency.isalpha()):
        r.problem("currency", f'"{currency}" is not a 3-letter currency code')
    return PriceSpec(prefix, price, currency, mms_price)
