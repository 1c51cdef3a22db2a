"""A short-lived in-process view of configuration that every request needs (users, prices, gateways).

Nothing here is authoritative: entries expire after ``ttl`` seconds so that a change made by
`parley apply` or by another process is seen within that time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from parley.core.licenses import License
from parley.core.links import LinkRule
from parley.core.number_config import NumberConfig, config_from_doc
from parley.core.outbound import Sender
from parley.core.rating import Price
from parley.core.sender_rules import SenderRules
from parley.core.toll_free import TollFree
from parley.core.transport_specs import DEFAULT_WHATSAPP_RATE, HTTP_CARRIERS
from parley.services.link_check import link_rules
from parley.services.sender_rules import rules_from
from parley.store import directory, sender_rules
from parley.store.db import Database


@dataclass(frozen=True)
class User:
    id: int
    extension: str
    name: str
    license: License
    office_number: str | None
    role: str
    sms_package: int
    password_hash: str
    directory_dn: str | None = None  # set: the LDAP directory sync owns this user

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def as_sender(self) -> Sender:
        return Sender(self.id, self.extension, self.name, self.license, self.office_number)


@dataclass(frozen=True)
class Config:
    prices: tuple[Price, ...]
    gateway_ids: frozenset[str]
    country: str
    timezone: str
    settings: dict[str, Any]
    # Company numbers served by a named transport (`[[numbers]] carrier =`): number -> transport name.
    carriers: dict[str, str] = field(default_factory=dict)
    mms_numbers: frozenset[str] = frozenset()  # company numbers with `mms = true`
    mms_transports: frozenset[str] = frozenset()  # transports whose channel carries MMS (HTTP carriers)
    # Company numbers on WhatsApp (`whatsapp = true` and a whatsapp transport naming the number).
    whatsapp: dict[str, WhatsAppNumber] = field(default_factory=dict)
    toll_free: dict[str, TollFree] = field(default_factory=dict)  # toll-free company numbers and their verification
    sender_rules: SenderRules = field(default_factory=SenderRules)  # sender IDs by country (issue 14 §3)
    link_rules: tuple[LinkRule, ...] = ()  # each SMS transport's `links` setting (issue 14 §4)


@dataclass(frozen=True)
class WhatsAppNumber:
    """A company number's WhatsApp transport and the WhatsApp Business Account whose templates it sends."""

    transport: str
    waba_id: str
    fallback: str | None = None  # "sms": what cannot go on WhatsApp goes as SMS (the number's `fallback`)
    fallback_after: timedelta | None = None  # ... and what is not delivered within this time
    rate: int = DEFAULT_WHATSAPP_RATE  # messages per second the number may send (`rate` on its transport)


def user_from_row(row: Any) -> User:
    return User(
        id=row.id,
        extension=row.extension,
        name=row.name,
        license=License.parse(row.license),
        office_number=row.office_number,
        role=row.role,
        sms_package=row.sms_package,
        password_hash=row.password_hash,
        directory_dn=getattr(row, "directory_dn", None),
    )


MAX_EXTENSION = 32  # users.extension is VARCHAR(32): a longer string is nobody, and is not looked up
MAX_USERS = 10_000  # remembered answers (unknown extensions included): a guesser cannot grow the cache


class DirectoryCache:
    def __init__(
        self, db: Database, *, country: str, timezone: str, ttl: float = 2.0, max_users: int = MAX_USERS
    ) -> None:
        self._db = db
        self._ttl = ttl
        self._max_users = max_users
        self._default_country = country
        self._default_timezone = timezone
        self._users: dict[str, tuple[float, User | None]] = {}
        self._config: tuple[float, Config] | None = None
        self._loading: dict[str, asyncio.Future[User | None]] = {}
        self._config_lock = asyncio.Lock()

    @property
    def remembered(self) -> int:
        """How many extensions (known or not) this cache holds an answer for."""
        return len(self._users)

    def invalidate(self) -> None:
        self._users.clear()
        self._config = None

    async def user(self, extension: str) -> User | None:
        if not 0 < len(extension) <= MAX_EXTENSION:
            return None
        cached = self._users.get(extension)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        loading = self._loading.get(extension)
        if loading is None:  # one reload per extension, not one per request
            loading = self._loading[extension] = asyncio.ensure_future(self._load_user(extension))
            loading.add_done_callback(lambda _: self._loading.pop(extension, None))
        return await asyncio.shield(loading)

    async def _load_user(self, extension: str) -> User | None:
        async with self._db.read() as conn:
            row = await directory.find_user(conn, extension)
        # A disabled user (gone from the LDAP directory) is nobody: no sign-in, no key, no session.
        user = user_from_row(row) if row is not None and getattr(row, "disabled_at", None) is None else None
        now = time.monotonic()
        if len(self._users) >= self._max_users:
            self._users = {k: v for k, v in self._users.items() if v[0] > now}
            if len(self._users) >= self._max_users:
                self._users.clear()
        self._users[extension] = (now + self._ttl, user)
        return user

    async def config(self) -> Config:
        if self._config is not None and self._config[0] > time.monotonic():
            return self._config[1]
        async with self._config_lock:
            if self._config is not None and self._config[0] > time.monotonic():
                return self._config[1]
            return await self._load_config()

    async def _load_config(self) -> Config:
        now = time.monotonic()
        async with self._db.read() as conn:
            prices = await directory.list_prices(conn)
            transports = await directory.list_transports(conn)
            settings = await directory.get_settings(conn)
            numbers = await directory.list_numbers(conn)
            rules = await sender_rules.list_rules(conn)
        config = Config(
            prices=tuple(
                Price(p.prefix, Decimal(p.price), p.currency, Decimal(p.mms_price) if p.mms_price else None)
                for p in prices
            ),
            gateway_ids=frozenset(t.gateway_id for t in transports if t.gateway_id),
            country=str(settings.get("pbx.country", self._default_country)),
            timezone=str(settings.get("pbx.timezone", self._default_timezone)),
            settings=settings,
            carriers={n.number: n.carrier for n in numbers if n.carrier},
            mms_numbers=frozenset(n.number for n in numbers if n.mms),
            mms_transports=frozenset(t.name for t in transports if t.kind in HTTP_CARRIERS),
            whatsapp=_whatsapp_numbers(numbers, transports),
            toll_free={n.number: tf for n in numbers if (tf := TollFree.from_doc(n.toll_free)) is not None},
            sender_rules=rules_from(rules, settings.get("sender_id.names")),
            link_rules=link_rules(transports),
        )
        self._config = (now + self._ttl, config)
        return config


def _whatsapp_numbers(numbers: Any, transports: Any) -> dict[str, WhatsAppNumber]:
    on_whatsapp = {n.number: config_from_doc(n.config) or NumberConfig() for n in numbers if n.whatsapp}
    found: dict[str, WhatsAppNumber] = {}
    for t in sorted(transports, key=lambda t: t.name):
        config = t.config if isinstance(t.config, dict) else {}
        number = config.get("number")
        if t.kind == "whatsapp" and number in on_whatsapp:
            own = on_whatsapp[number]
            rate = config.get("rate")
            rate = rate if isinstance(rate, int) and not isinstance(rate, bool) and rate > 0 else DEFAULT_WHATSAPP_RATE
            found.setdefault(
                str(number),
                WhatsAppNumber(t.name, str(config.get("waba_id", "")), own.fallback, own.fallback_after, rate),
            )
    return found
