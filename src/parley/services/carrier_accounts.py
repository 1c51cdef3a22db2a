"""The HTTP carriers' accounts, for their webhooks: which twilio transport an ``AccountSid`` names, which
Telnyx public keys may sign, which WhatsApp transport a ``phone_number_id`` names and its app secret. Read from
the transports table and kept for a few seconds (a handful of rows)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from parley.store import directory
from parley.store.db import Database


@dataclass(frozen=True)
class TwilioAccount:
    transport: str
    account_sid: str
    auth_token: str


@dataclass(frozen=True)
class TelnyxAccount:
    transport: str
    public_key: str  # base64 of the raw 32-byte Ed25519 key


@dataclass(frozen=True)
class WhatsAppAccount:
    transport: str
    number: str  # the company number it serves
    phone_number_id: str  # how Meta's webhooks name it (`metadata.phone_number_id`)
    app_secret: str  # signs the webhooks (X-Hub-Signature-256)
    verify_token: str  # the subscription handshake


class CarrierAccounts:
    def __init__(self, db: Database, *, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._ttl = ttl
        self._clock = clock
        self._loaded_at: float | None = None
        self._twilio: dict[str, TwilioAccount] = {}
        self._telnyx: list[TelnyxAccount] = []
        self._whatsapp: dict[str, WhatsAppAccount] = {}

    async def twilio(self, account_sid: str) -> TwilioAccount | None:
        await self._load()
        return self._twilio.get(account_sid)

    async def telnyx(self) -> list[TelnyxAccount]:
        await self._load()
        return list(self._telnyx)

    async def whatsapp(self, phone_number_id: str) -> WhatsAppAccount | None:
        await self._load()
        return self._whatsapp.get(phone_number_id)

    async def whatsapp_accounts(self) -> list[WhatsAppAccount]:
        await self._load()
        return list(self._whatsapp.values())

    def invalidate(self) -> None:
        self._loaded_at = None

    async def _load(self) -> None:
        now = self._clock()
        if self._loaded_at is not None and now - self._loaded_at < self._ttl:
            return
        async with self._db.read() as conn:
            rows = await directory.list_transports(conn)
        twilio: dict[str, TwilioAccount] = {}
        telnyx: list[TelnyxAccount] = []
        whatsapp: dict[str, WhatsAppAccount] = {}
        for row in rows:
            config = row.config if isinstance(row.config, dict) else {}
            if row.kind == "twilio" and config.get("account_sid") and config.get("auth_token"):
                sid = str(config["account_sid"])
                twilio.setdefault(sid, TwilioAccount(row.name, sid, str(config["auth_token"])))
            elif row.kind == "telnyx" and config.get("public_key"):
                telnyx.append(TelnyxAccount(row.name, str(config["public_key"])))
            elif row.kind == "whatsapp" and config.get("phone_number_id") and config.get("app_secret"):
                key = str(config["phone_number_id"])
                whatsapp.setdefault(key, WhatsAppAccount(
                    row.name, str(config.get("number") or ""), key, str(config["app_secret"]),
                    str(config.get("verify_token") or ""),
                ))  # fmt: skip
        self._twilio, self._telnyx, self._whatsapp, self._loaded_at = twilio, telnyx, whatsapp, now
