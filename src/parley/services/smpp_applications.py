"""The SMPP server's use cases (issue 13 §4): binds, submits, and what waits for an application's receiver.

- `bind`: system_id and password (argon2, through the shared `Authenticator`, so the sign-in throttle applies);
  5 failed binds from one address within 5 minutes lock that address out for 5 minutes (ESME_RBINDFAIL).
- `submit`: checks the destination and the source_addr (the user's sender rules), then sends through the
  `Outbox` like every ingress (source ``smpp-server``: license, quota, charges). A part of a long message is
  written first (durable before its submit_sm_resp) and the message goes once its last part is in.
- `claim` / `delivered` / `release`: receipts and inbound messages for bound receivers, leased so that one of
  several binds delivers each, and kept until one binds.

The id an ESME gets is written in the Outbox's own transaction with the message (``SendSms.on_write``), and so
is the link from a long message's parts to it: the message and what the ESME was told are durable together.
A lock per long message keeps one process from joining it twice; between processes (an ESME's binds spread over
several `parley serve`) the link is the arbiter: it takes only parts still waiting, else the message is not written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from parley.channels.smpp import decode_text
from parley.channels.smpp_pdu import Concat, Status
from parley.channels.smpp_submit import Submission, SubmitRefused
from parley.core.concat import Part, complete, join
from parley.core.numbers import InvalidNumber, from_smpp_address
from parley.core.outbound import OutboundError
from parley.core.smpp_server import SourceRefused, check_source, receipt_for
from parley.core.throttling import SMPP_BIND_WINDOW, Counter, judge
from parley.keyed_locks import KeyedLocks
from parley.services.auth import Authenticator, Throttled
from parley.services.directory import DirectoryCache
from parley.services.send import Outbox, SendSms
from parley.store import sign_in_failures, smpp
from parley.store.db import Database
from parley.store.ids import new_id
from parley.store.tables import Record

SOURCE = "smpp-server"
LEASE = timedelta(seconds=30)  # a receipt or inbound message handed to a bind; back to the others after this
NUMBERS_TTL = 5.0  # a user's sender numbers are read again after this many seconds


class BindRefused(Exception):
    """The bind is refused with ``status`` (ESME_RINVSYSID, ESME_RINVPASWD or ESME_RBINDFAIL)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Account:
    system_id: str
    user_id: int
    extension: str
    throughput: int


@dataclass(frozen=True)
class ToDeliver:
    """A deliver_sm an application's receiver is owed: a delivery receipt or an inbound (MO) message."""

    kind: Literal["receipt", "mo"]
    key: str | int  # the submit id (receipt) or the inbound row id (mo)
    system_id: str
    source: str  # E.164 or an alphanumeric ID
    destination: str
    text: str
    message_state: int | None = None  # receipts: §5.2.28


def _bind_key(address: str) -> str:
    return "smpp_bind:" + hashlib.sha256(address.encode("utf-8", "backslashreplace")).hexdigest()[:48]


class SmppApplications:
    def __init__(
        self,
        db: Database,
        cache: DirectoryCache,
        outbox: Outbox,
        auth: Authenticator,
        clock: Callable[[], datetime],
        *,
        part_expiry: timedelta = timedelta(hours=24),
    ) -> None:
        self._db, self._cache, self._outbox, self._auth, self._clock = db, cache, outbox, auth, clock
        self._part_expiry = part_expiry
        self._numbers: dict[int, tuple[float, set[str]]] = {}
        self._joining = KeyedLocks()  # one long message's parts are joined one at a time

    # --- binds -------------------------------------------------------------------------------------

    async def bind(self, system_id: str, password: str, address: str) -> Account:
        """The account these credentials open; raises `BindRefused`."""
        now = self._clock()
        key = _bind_key(address)
        async with self._db.read() as conn:
            rows = await sign_in_failures.list_live(conn, [key], now - SMPP_BIND_WINDOW)
        verdict = judge((Counter("smpp_bind", r.failures, r.last_at) for r in rows), now)
        if verdict.refused_until is not None and verdict.refused_until > now:
            raise BindRefused(Status.ESME_RBINDFAIL, "too many failed binds from this address")
        async with self._db.read() as conn:
            row = await smpp.find_account(conn, system_id)
        try:
            if row is None:
                raise BindRefused(Status.ESME_RINVSYSID, "unknown system_id")
            try:
                right = await self._auth.check_secret(row.password_hash, password, f"smpp:{system_id}", address)
            except Throttled:
                raise BindRefused(Status.ESME_RBINDFAIL, "too many wrong passwords") from None
            if not right:
                raise BindRefused(Status.ESME_RINVPASWD, "wrong password")
        except BindRefused:
            async with self._db.write() as conn:
                await sign_in_failures.record(conn, [key], now, now - SMPP_BIND_WINDOW)
            raise
        return Account(row.system_id, row.user_id, row.extension, row.throughput)

    # --- submits -----------------------------------------------------------------------------------

    async def submit(self, account: Account, sub: Submission) -> str:
        """Take one submit_sm; returns the message_id for its submit_sm_resp once durable. Raises `SubmitRefused`."""
        config = await self._cache.config()
        try:
            destination = from_smpp_address(sub.destination, sub.dest_ton, sub.dest_npi, config.country)
        except InvalidNumber as exc:
            raise SubmitRefused(exc.reason, Status.ESME_RINVDSTADR) from None
        user = await self._cache.user(account.extension)
        if user is None:
            raise SubmitRefused("the account's user is gone", Status.ESME_RSUBMITFAIL)
        numbers = await self._user_numbers(user.id)
        try:
            sender = check_source(sub.source, sub.source_ton, sub.source_npi, destination=destination,
                                  numbers=numbers, region=config.country)  # fmt: skip
        except SourceRefused as exc:
            raise SubmitRefused(str(exc), Status.ESME_RINVSRCADR) from None
        send = SendSms(user=user, destinations=[destination], text="", source=SOURCE, sender_number=sender,
                       strict_numbers=True)  # fmt: skip
        if sub.concat is None:

            async def record(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
                # In the Outbox's transaction: the message and the id its ESME gets are durable together.
                await smpp.add_submits(conn, [self._submit_row(account, rows[0]["id"], sub.receipt, rows[0]["id"])])

            return await self._send(dataclasses.replace(send, on_write=record), sub.text)
        return await self._part(account, sub, sub.concat, send, sender, destination)

    async def _part(
        self, account: Account, sub: Submission, concat: Concat, send: SendSms, sender: str | None, to: str
    ) -> str:
        key = f"{sender or ''}|{to}|{concat.ref}|{concat.total}|{sub.data_coding}"
        row = {
            **self._submit_row(account, new_id(), sub.receipt, None),
            "concat_key": key, "part": concat.seq, "text": sub.octets.decode("latin-1"),
            "sender": sender, "recipient": to,
        }  # fmt: skip
        async with self._db.write() as conn:
            await smpp.add_submits(conn, [row])  # durable before its submit_sm_resp
        async with self._joining.one_at_a_time(key):
            async with self._db.read() as conn:
                held = await smpp.waiting_parts(conn, account.system_id, key)
            parts = [Part(h.part, concat.total, to, h.text, h.created_at) for h in held]
            if not complete(parts):
                return str(row["id"])
            octets, _ = join(parts)
            ids = [h.id for h in held]

            async def link(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
                await smpp.link_parts(conn, ids, rows[0]["id"])  # with the message, in its transaction

            try:
                await self._send(
                    dataclasses.replace(send, on_write=link), decode_text(octets.encode("latin-1"), sub.data_coding)
                )
            except SubmitRefused:
                async with self._db.write() as conn:
                    await smpp.drop_parts(conn, ids)
                raise
            except smpp.PartsTaken:
                # Another process (the ESME's other bind) sent the message first: its transaction linked the
                # parts, ours wrote nothing. The group commit wrote the others it held without this one.
                pass
        return str(row["id"])

    async def close(self) -> None:
        """Nothing of its own to flush: its writes ride on the Outbox's transactions."""

    async def _send(self, send: SendSms, text: str) -> str:
        try:
            result = await self._outbox.send(dataclasses.replace(send, text=text))
        except OutboundError as exc:
            status = Status.ESME_RINVDSTADR if exc.field == "number" else Status.ESME_RSUBMITFAIL
            raise SubmitRefused(f"{exc.field}: {exc.reason}", status) from None
        return str(result.messages[0]["id"])

    def _submit_row(self, account: Account, sid: str, receipt: bool, message_id: str | None) -> dict[str, Any]:
        return {
            "id": sid, "system_id": account.system_id, "message_id": message_id, "concat_key": None, "part": 1,
            "text": None, "sender": None, "recipient": None, "receipt_pending": receipt, "lease_until": None,
            "created_at": self._clock(),
        }  # fmt: skip

    async def _user_numbers(self, user_id: int) -> set[str]:
        cached = self._numbers.get(user_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self._db.read() as conn:
            found = await smpp.user_numbers(conn, user_id)
        if len(self._numbers) > 10_000:
            self._numbers.clear()
        self._numbers[user_id] = (time.monotonic() + NUMBERS_TTL, found)
        return found

    async def expire_parts(self) -> int:
        """Parts whose message stayed incomplete past the expiry are dropped (their receipts never come)."""
        async with self._db.write() as conn:
            stale = await smpp.list_stale_parts(conn, self._clock() - self._part_expiry)
            await smpp.drop_parts(conn, [r.id for r in stale])
        return len(stale)

    # --- what receivers are owed -------------------------------------------------------------------

    async def claim(self, system_ids: Sequence[str], limit: int = 100) -> list[ToDeliver]:
        """Receipts and inbound messages due to these accounts, leased to the caller for `LEASE`."""
        if not system_ids:
            return []
        now = self._clock()
        async with self._db.write() as conn:
            receipts = await smpp.claim_receipts(conn, system_ids, now, LEASE, limit)
            inbound = await smpp.claim_inbound(conn, system_ids, now, LEASE, limit)
        return [self._receipt(r) for r in receipts] + [
            ToDeliver("mo", r.id, r.system_id, r.sender, r.recipient, r.body) for r in inbound
        ]

    @staticmethod
    def _receipt(r: Record) -> ToDeliver:
        receipt = receipt_for(r.id, status=r.status, error=r.error, error_code=r.error_code,
                              submitted_at=r.created_at, done_at=r.updated_at, text=r.body)  # fmt: skip
        # The receipt comes from the handset's side: from the recipient, to the sender the ESME used.
        return ToDeliver("receipt", r.id, r.system_id, r.recipient, r.sender, receipt.text, receipt.message_state)

    async def delivered(self, items: Sequence[ToDeliver]) -> None:
        async with self._db.write() as conn:
            await smpp.finish_receipts(conn, [str(i.key) for i in items if i.kind == "receipt"])
            await smpp.finish_inbound(conn, [int(i.key) for i in items if i.kind == "mo"])

    async def release(self, items: Sequence[ToDeliver]) -> None:
        """Not delivered (the bind went, the receiver refused): due again now, to any bind of the account."""
        async with self._db.write() as conn:
            await smpp.release_receipts(conn, [str(i.key) for i in items if i.kind == "receipt"])
            await smpp.release_inbound(conn, [int(i.key) for i in items if i.kind == "mo"])


class SmppInbound:
    """The inbound router's hook: an inbound message to an account's user's number waits for its receiver.

    Runs in the router's transaction (durable with the routing). Cheap when no account exists: that is looked
    up once every few seconds."""

    def __init__(self, clock: Callable[[], datetime], ttl: float = 5.0) -> None:
        self._clock, self._ttl = clock, ttl
        self._any: tuple[float, bool] = (0.0, False)

    async def __call__(self, conn: AsyncConnection, routed: Sequence[Record]) -> None:
        routed = [m for m in routed if m.channel in ("sms", "mms")]  # SMPP carries SMS (an MMS's text goes too)
        if not routed:
            return
        if self._any[0] <= time.monotonic():
            self._any = (time.monotonic() + self._ttl, await smpp.has_accounts(conn))
        if not self._any[1]:
            return
        accounts = await smpp.accounts_by_number(conn, {m.recipient for m in routed})
        now = self._clock()
        rows = [
            {"system_id": system_id, "message_id": m.id, "lease_until": None, "created_at": now}
            for m in routed
            for system_id in accounts.get(m.recipient, [])
        ]
        await smpp.add_inbound(conn, rows)


__all__ = ["Account", "BindRefused", "SmppApplications", "SmppInbound", "ToDeliver"]
