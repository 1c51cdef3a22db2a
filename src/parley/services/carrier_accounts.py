"""The HTTP carriers' accounts, for their webhooks: which twilio transport an ``AccountSid`` names, which
Telnyx public keys may sign. Read from the transports table and kept for a few seconds (a handful of rows)."""

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


class CarrierAccounts:
    def __init__(self, db: Database, *, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._ttl = ttl
        self._clock = clock
        self._loaded_at: float | None = None
        self._twilio: dict[str, TwilioAccount] = {}
        self._telnyx: list[TelnyxAccount] = []

    async def twilio(self, account_sid: str) -> TwilioAccount | None:
        await self._load()
        return self._twilio.get(account_sid)

    async def telnyx(self) -> list[TelnyxAccount]:
        await self._load()
        return list(self._telnyx)

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
        for row in rows:
            config = row.config if isinstance(row.config, dict) else {}
            if row.kind == "twilio" and config.get("account_sid") and config.get("auth_token"):
                sid = str(config["account_sid"])
                twilio.setdefault(sid, TwilioAccount(row.name, sid, str(config["auth_token"])))
            elif row.kind == "telnyx" and config.get("public_key"):
                telnyx.append(TelnyxAccount(row.name, str(config["public_key"])))
        self._twilio, self._telnyx, self._loaded_at = twilio, telnyx, now
