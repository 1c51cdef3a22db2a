"""Transports in the admin console: list them with their live state, add or change them, send a test message.

A change is written to the `transports` table and then `Transports.refresh` starts, restarts or stops the channel in
this process (other processes follow on their own refresh tick). A test goes out right away, outside the queue: for
a curl line through a fresh `CurlChannel` (as bootstrap builds it) whose HTTP answer is shown whole; for SMPP
through the running channel when it is bound.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.channels.base import Outgoing
from parley.channels.curl import CurlChannel
from parley.channels.curl_command import CurlCommandError, parse_curl, redact
from parley.core.delivery import DeliveryError
from parley.core.numbers import InvalidNumber, parse_e164
from parley.core.provisioning_entries import read_transport
from parley.core.provisioning_specs import TransportSpec
from parley.core.text import encoding_for
from parley.core.transport_specs import SECRET_FIELDS
from parley.services.admin_checks import AdminError, check_entry, form_entry, require_admin
from parley.services.directory import DirectoryCache, User
from parley.services.transport_secrets import MaskMismatch, mask, unmask
from parley.services.transports import Transports
from parley.store import admin as store
from parley.store import directory
from parley.store.db import Database
from parley.store.tables import numbers, transports

TEST_TEXT = "Parley test message"
MAX_SMPP_SYSTEM_ID, MAX_SMPP_PASSWORD = 15, 8  # SMPP 3.4 §4.1.1: C-Octet Strings of 16 and 9 octets


@dataclass(frozen=True)
class TestOutcome:
    ok: bool
    summary: str  # one line: "HTTP 200", "bound: submitted", or the reason it failed
    status: int | None = None  # the HTTP status, for curl
    body: str = ""  # the HTTP body (first 2,000 characters), for curl


class _Recording(httpx.AsyncBaseTransport):
    """Keeps the last HTTP answer so that a test shows exactly what the SMS server said."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.last: httpx.Response | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        self.last = httpx.Response(response.status_code, headers=response.headers, content=body, request=request)
        return self.last

    async def aclose(self) -> None:
        await self._inner.aclose()


class TransportAdmin:
    def __init__(self, db: Database, cache: DirectoryCache, clock: Callable[[], datetime], live: Transports) -> None:
        self._db = db
        self._cache = cache
        self._clock = clock
        self._live = live

    async def list_(self, actor: User) -> list[dict[str, Any]]:
        """Every transport (a handful) with its state as the workers report it: bound, connecting, down, ready."""
        require_admin(actor)
        async with self._db.read() as conn:
            rows = await directory.list_transports(conn)
        status = await self._live.cluster_status(self._clock())
        return [_view(r, status.get(r.name)) for r in rows]

    async def get(self, actor: User, name: str) -> dict[str, Any]:
        require_admin(actor)
        async with self._db.read() as conn:
            row = await store.find(conn, transports, "name", name)
        if row is None:
            raise AdminError.on(None, f"There is no transport {name}", 404)
        return _view(row, (await self._live.cluster_status(self._clock())).get(name))

    async def save(self, actor: User, form: dict[str, str], name: str | None = None) -> str:
        """Add a transport (``name`` None) or change one; a blank SMPP password keeps the current one."""
        require_admin(actor)
        if name is not None:
            form = {**form, "name": name}
        entry = form_entry(form, numbers=("port", "window", "throughput", "rate"))
        if "assume_delivered" in entry:  # a checkbox: "on" when ticked, absent when not
            entry["assume_delivered"] = entry["assume_delivered"] in ("on", "true")
        region = (await self._cache.config()).country  # a WhatsApp transport's number, as people type it
        async with self._db.write() as conn:
            existing = await store.find(conn, transports, "name", name) if name is not None else None
            if name is not None and existing is None:
                raise AdminError.on(None, f"There is no transport {name}", 404)
            if existing is not None and existing.kind == entry.get("kind", existing.kind):
                for secret in SECRET_FIELDS:  # a blank secret keeps the current one (it is never shown)
                    if secret not in entry and secret in existing.config:
                        entry[secret] = existing.config[secret]
            if "command" in entry:  # shown masked: the masks left in stand for the stored credentials
                stored = existing.config.get("command", "") if existing is not None else ""
                try:
                    entry["command"] = unmask(str(entry["command"]), stored)
                except MaskMismatch as exc:
                    raise AdminError.on("command", str(exc)) from None
            t = check_entry(read_transport, entry, region)
            problems = _channel_problems(t)
            if t.kind == "whatsapp":
                problems += await _whatsapp_problems(conn, t)
            if name is None and await store.find(conn, transports, "name", t.name) is not None:
                problems.append(("name", f'"{t.name}" is already a transport'))
            curl = await store.curl_transport(conn)
            if t.role == "curl" and curl is not None and curl != t.name:
                problems.append(("role", f'only one curl SMS server may be configured ("{curl}" is)'))
            owner = await store.gateway_owner(conn, t.gateway_id) if t.gateway_id else None
            if owner is not None and owner != t.name:
                problems.append(("id", f'"{t.gateway_id}" is already the id of "{owner}"'))
            if problems:
                raise AdminError(422, problems)
            row = {"name": t.name, "role": t.role, "kind": t.kind, "gateway_id": t.gateway_id, "config": t.config}
            await directory.upsert(
                conn, transports, "name", {**row, "updated_at": self._clock()}, ignore=("updated_at",)
            )
        self._cache.invalidate()
        await self._live.refresh()
        await self._live.report(self._clock())
        return t.name

    async def delete(self, actor: User, name: str) -> None:
        require_admin(actor)
        async with self._db.write() as conn:
            if not await store.delete(conn, transports, "name", name):
                raise AdminError.on(None, f"There is no transport {name}", 404)
        self._cache.invalidate()
        await self._live.refresh()
        await self._live.report(self._clock())

    async def send_test(
        self, actor: User, name: str, to: str, text: str = TEST_TEXT, *, http: httpx.AsyncBaseTransport | None = None
    ) -> TestOutcome:
        """Send one SMS to ``to`` now through transport ``name``; ``http`` replaces the network in tests."""
        require_admin(actor)
        try:
            number = parse_e164(to, (await self._cache.config()).country)
        except InvalidNumber as exc:
            raise AdminError.on("to", exc.reason) from None
        async with self._db.read() as conn:
            row = await store.find(conn, transports, "name", name)
        if row is None:
            raise AdminError.on(None, f"There is no transport {name}", 404)
        text = text.strip() or TEST_TEXT
        message = Outgoing(
            f"test-{secrets.token_hex(6)}", actor.office_number or "Parley", number, text, encoding_for(text)
        )
        if row.kind == "curl":
            return await _curl_test(row, message, http)
        if row.kind == "whatsapp":  # Meta takes free text only within a customer's 24-hour window
            return TestOutcome(False, "not sent: try a WhatsApp number from a conversation the customer started")
        channel = self._live.channel(name)
        if channel is None or getattr(channel, "state", "bound") != "bound":
            state = (
                getattr(channel, "state", "not running in this process") if channel else "not running in this process"
            )
            return TestOutcome(False, f"not sent: the transport is {state}")
        try:
            sent = await channel.send(message)
        except DeliveryError as exc:
            return TestOutcome(False, f"refused: {exc.reason}")
        return TestOutcome(True, f"submitted; message id {', '.join(sent.carrier_ids) or 'not given'}")


async def _curl_test(row: Any, message: Outgoing, http: httpx.AsyncBaseTransport | None) -> TestOutcome:
    command = row.config["command"]
    recording = _Recording(http or httpx.AsyncHTTPTransport(verify=not parse_curl(command).insecure))
    channel = CurlChannel(row.name, command, transport=recording)
    await channel.start()
    try:
        await channel.send(message)
        ok, reason = True, ""
    except DeliveryError as exc:
        ok, reason = False, exc.reason
    finally:
        await channel.stop()
    answer = recording.last
    if answer is None:
        return TestOutcome(False, f"no answer: {redact(reason)}")
    summary = f"HTTP {answer.status_code} {answer.reason_phrase}".strip()
    return TestOutcome(ok, summary if ok else f"{summary}: {reason}", answer.status_code, answer.text[:2000])


def _channel_problems(t: TransportSpec) -> list[tuple[str | None, str]]:
    """What the channel itself would refuse at start: a curl line it cannot parse, SMPP fields too long."""
    problems: list[tuple[str | None, str]] = []
    if t.kind == "curl":
        try:
            CurlChannel(t.name, str(t.config["command"]))
        except CurlCommandError as exc:
            problems.append(("command", str(exc)))
    elif t.kind == "smpp":
        if len(str(t.config["system_id"])) > MAX_SMPP_SYSTEM_ID:
            problems.append(("system_id", f"must be at most {MAX_SMPP_SYSTEM_ID} characters (SMPP 3.4 §4.1.1)"))
        if len(str(t.config["password"])) > MAX_SMPP_PASSWORD:
            problems.append(("password", f"must be at most {MAX_SMPP_PASSWORD} characters (SMPP 3.4 §4.1.1)"))
    return problems


async def _whatsapp_problems(conn: AsyncConnection, t: TransportSpec) -> list[tuple[str | None, str]]:
    """As provisioning (issue 12 §1): the number it serves is a company number with ``whatsapp = true``, and no other
    WhatsApp transport serves it."""
    number = str(t.config["number"])
    row = await store.find(conn, numbers, "number", number)
    if row is None or not row.whatsapp:
        return [("number", f"{number} is not a company number with WhatsApp on: tick WhatsApp on it in Numbers first")]
    for other in await directory.list_transports(conn):
        if other.kind == "whatsapp" and other.name != t.name and other.config.get("number") == number:
            return [("number", f'{number} is already served on WhatsApp by "{other.name}"')]
    return []


def _view(row: Any, live: dict[str, Any] | None) -> dict[str, Any]:
    config = dict(row.config)
    if row.kind == "curl":
        where = redact(parse_curl(config["command"]).url) if _parses(config["command"]) else "(cannot be parsed)"
    elif row.kind == "smpp":
        where = f"{config['host']}:{config['port']} as {config['system_id']}"
    elif row.kind == "whatsapp":
        where = f"{config.get('number', '')} · phone number id {config.get('phone_number_id', '')}"
    else:  # an HTTP carrier
        account = config.get("account_sid") or config.get("messaging_profile_id") or ""
        where = f"{config.get('api_base', '')} {account}".strip()
    return {
        "name": row.name,
        "role": row.role,
        "kind": row.kind,
        "gateway_id": row.gateway_id,
        "where": where,
        "throughput": config.get("throughput"),
        "state": live["state"] if live else "not running",
        "workers": live["workers"] if live else {},
        "last_error": live["last_error"] if live else None,
        # Credentials never go back to a page or an API answer: no password or token, a curl command masked.
        "config": {k: mask(v) if k == "command" else v for k, v in config.items() if k not in SECRET_FIELDS},
    }


def _parses(command: str) -> bool:
    try:
        parse_curl(command)
    except CurlCommandError:
        return False
    return True
