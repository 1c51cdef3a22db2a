"""The checks of one entry of each array section of the provisioning file. Pure.

`read_user`, `read_service`, `read_bot`, `read_number` (with `read_toll_free`), `read_transport` and `read_price`
each check one ``[[section]]`` table through an `EntryReader`, naming every problem by entry and field, and return
its spec (`core.provisioning_specs`). `core.provisioning.parse` runs them over a whole file; the admin console runs
the same ones over a single form, so both accept exactly the same entries. `Names` is what routing and actions in a
number's or a service's settings may refer to.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from parley.core.entry_reader import EntryReader
from parley.core.licenses import License, names
from parley.core.number_config import KEYS as CONFIG_KEYS
from parley.core.number_config import ConfigError, NumberConfig, config_to_doc, parse_config
from parley.core.provisioning_specs import ROLES, BotSpec, NumberSpec, PriceSpec, ServiceSpec, TransportSpec, UserSpec
from parley.core.routing import normalise_gateway_id
from parley.core.toll_free import BUSINESS_FIELDS, DEFAULT_LIMIT, POLICIES, VERIFICATIONS, TollFree
from parley.core.transport_specs import TRANSPORT_KINDS, TRANSPORT_ROLES, read_kind_config, read_sms_options
from parley.core.whatsapp_rules import TemplateSpec, TemplateSpecError


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
