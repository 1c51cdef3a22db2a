"""Parley's SMPP server for applications (issue 13 §4), listening on ``PARLEY_SMPP``.

It runs in the serving process (`parley serve`, with or without workers), beside the HTTP APIs and the SMTP
server: it is an ingress. Receipts and inbound messages for applications wait in the database
(`services.smpp_applications`), so whichever process holds a receiver bind of the account delivers them, and
they wait there while none is bound. Each process looks for them every `POLL_SECONDS` while it has a
receiver bound, and not at all otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import Sequence

import structlog

from parley.channels.smpp_pdu import DC_DEFAULT, DC_UCS2, ESM_RECEIPT, DeliverSm, Tag
from parley.core.numbers import InvalidNumber, Ton, to_smpp_address
from parley.core.smpp_server import TokenBucket
from parley.core.text import encode_gsm7, encode_ucs2, is_gsm7
from parley.ingress.smpp_connection import Connection
from parley.logs import Failures
from parley.services.smpp_applications import Account, SmppApplications, ToDeliver
from parley.waiting import woken

log = structlog.get_logger()
POLL_SECONDS = 0.25
MAX_CONNECTIONS = 256


def _address(value: str) -> tuple[str, int, int]:
    try:
        return to_smpp_address(value)
    except InvalidNumber:
        return value[:20], Ton.ALPHANUMERIC, 0


def deliver_pdu(item: ToDeliver) -> DeliverSm:
    """The deliver_sm for a receipt (§4.6.1, esm_class 0x04, Appendix B text and TLVs) or an MO message."""
    if is_gsm7(item.text):
        data, coding = encode_gsm7(item.text), DC_DEFAULT
    else:
        data, coding = encode_ucs2(item.text), DC_UCS2
    tlvs: dict[int, bytes] = {}
    if item.kind == "receipt":
        tlvs[Tag.RECEIPTED_MESSAGE_ID] = str(item.key).encode("ascii") + b"\0"
        tlvs[Tag.MESSAGE_STATE] = bytes((item.message_state or 0,))
    if len(data) > 254:  # §5.3.2.32: a long MO goes whole in message_payload
        tlvs[Tag.MESSAGE_PAYLOAD], data = data, b""
    source, source_ton, source_npi = _address(item.source)
    dest, dest_ton, dest_npi = _address(item.destination)
    return DeliverSm(
        source_addr=source, source_addr_ton=source_ton, source_addr_npi=source_npi,
        destination_addr=dest, dest_addr_ton=dest_ton, dest_addr_npi=dest_npi,
        esm_class=ESM_RECEIPT if item.kind == "receipt" else 0,
        data_coding=coding, short_message=data, tlvs=tlvs,
    )  # fmt: skip


class SmppServer:
    def __init__(
        self,
        apps: SmppApplications,
        host: str,
        port: int,
        *,
        window: int = 32,
        response_timeout: float = 10.0,
        bind_timeout: float = 30.0,
        enquire_link_interval: float = 30.0,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self._apps, self.host, self.port = apps, host, port
        self._window, self._response_timeout = window, response_timeout
        self._bind_timeout, self._enquire_link_interval = bind_timeout, enquire_link_interval
        self._max_connections = max_connections
        self._connections: set[Connection] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._buckets: dict[str, TokenBucket] = {}
        self._turn = itertools.count()
        self._server: asyncio.Server | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._settled: list[ToDeliver] = []
        self._unsettled: list[ToDeliver] = []
        self._failures = Failures(log)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._loop_task = asyncio.create_task(self._deliver_loop(), name="smpp-server-deliveries")
        log.info("smpp_server.listening", address=f"{self.host}:{self.port}")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.close(abort=True)
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5.0)
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        await self._settle()
        if self._server is not None:
            await self._server.wait_closed()

    def _bucket(self, account: Account) -> TokenBucket:
        """One budget per account in this process, shared by its binds; a changed throughput starts a new one."""
        bucket = self._buckets.get(account.system_id)
        if bucket is None or bucket.rate != account.throughput:
            bucket = TokenBucket(account.throughput, asyncio.get_running_loop().time())
            self._buckets[account.system_id] = bucket
        return bucket

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= self._max_connections:
            writer.close()
            return
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(
            reader, writer, self._apps, bucket=self._bucket, on_bound=lambda _: self._wake.set(),
            window=self._window, response_timeout=self._response_timeout, bind_timeout=self._bind_timeout,
            enquire_link_interval=self._enquire_link_interval, log=log,
        )  # fmt: skip
        self._connections.add(conn)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            await conn.serve()
        finally:
            self._connections.discard(conn)
            if task is not None:
                self._handlers.discard(task)
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _receivers(self) -> dict[str, list[Connection]]:
        found: dict[str, list[Connection]] = {}
        for conn in self._connections:
            if conn.account is not None and conn.receives and not conn.closed.is_set():
                found.setdefault(conn.account.system_id, []).append(conn)
        return found

    async def _deliver_loop(self) -> None:
        """Receipts and inbound messages to this process's bound receivers; outcomes written in batches."""
        tasks: set[asyncio.Task[None]] = set()
        while True:
            claimed: Sequence[ToDeliver] = []
            try:
                await self._settle()
                receivers = self._receivers()
                if receivers and len(tasks) < 4 * self._window * len(receivers):
                    claimed = await self._apps.claim(sorted(receivers))
                for item in claimed:
                    binds = receivers[item.system_id]
                    task = asyncio.create_task(self._deliver(binds[next(self._turn) % len(binds)], item))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            except Exception:
                self._failures.exception("smpp_server.deliveries_failed")
            if not claimed:
                await woken(self._wake, POLL_SECONDS)
                self._wake.clear()

    async def _deliver(self, conn: Connection, item: ToDeliver) -> None:
        taken = await conn.deliver(deliver_pdu(item))
        if taken:
            self._settled.append(item)
            self._wake.set()
        else:  # due again at the next look, to whichever bind of the account there is then
            self._unsettled.append(item)

    async def _settle(self) -> None:
        settled, self._settled = self._settled, []
        unsettled, self._unsettled = self._unsettled, []
        if settled:
            await self._apps.delivered(settled)
        if unsettled:
            await self._apps.release(unsettled)
