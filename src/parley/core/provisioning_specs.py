"""The provisioning document's data types (contracts/parley.example.toml). Pure.

One frozen dataclass per entry of an array section (`UserSpec` for ``[[users]]``, `NumberSpec` for ``[[numbers]]``,
…) and `Provisioning`, the whole checked document; `core.provisioning.parse` builds it, `services.provisioning`
applies it. Each holds values already checked, so the console's forms and `parley apply` store the same things.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from parley.core.directory_config import DirectoryConfig
from parley.core.licenses import License
from parley.core.sender_rules import CountryRule
from parley.core.smpp_accounts import SmppAccountSpec

ROLES = ("admin", "user")


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
