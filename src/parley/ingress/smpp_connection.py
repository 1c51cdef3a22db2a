"""One ESME's connection to Parley's SMPP server (SMPP 3.4, SMSC side): bind, submit_sm, deliver_sm, the rest.

Bounded whatever the peer does:
- a PDU is at most `MAX_PDU` octets (command_length past it: generic_nack and the connection is closed);
- at most ``window`` of its submit_sm are in hand at once: past that the connection is not read, so TCP
  pushes back on the peer instead of requests piling up in memory;
- answers wait for the peer to read them (``drain``): a peer that never reads stops being read, and is
  dropped once ``response_timeout`` passes with its answers unread; the same bound holds our deliver_sm;
- a frame that cannot be decoded is answered with generic_nack (§4.3); `MAX_GARBAGE` of them in a row and
  the connection is closed; a connection that does not bind within ``bind_timeout`` is closed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

from parley.channels.smpp_pdu import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DeliverSm,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    PduError,
    Status,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    decode,
    encode,
    is_response,
    read_frame,
)
from parley.channels.smpp_submit import SubmitRefused, read_submit
from parley.core.smpp_server import TokenBucket
from parley.services.smpp_applications import Account, BindRefused, SmppApplications

MAX_PDU = 64 * 1024 + 512  # message_payload (§5.3.2.32) holds up to 64 KiB; nothing legal is bigger
MAX_GARBAGE = 10
SERVER_SYSTEM_ID = "parley"
_BIND_RESP: dict[type[Pdu], type[BindTransmitterResp | BindReceiverResp | BindTransceiverResp]] = {
    BindTransmitter: BindTransmitterResp,
    BindReceiver: BindReceiverResp,
    BindTransceiver: BindTransceiverResp,
}


class Connection:
    """Serves one TCP connection until it ends; ``account`` and ``receives`` once bound."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        apps: SmppApplications,
        *,
        bucket: Callable[[Account], TokenBucket],
        on_bound: Callable[[Connection], None],
        window: int,
        response_timeout: float,
        bind_timeout: float,
        enquire_link_interval: float,
        log: Any,
    ) -> None:
        self._reader, self._writer, self._apps, self._log = reader, writer, apps, log
        self._bucket, self._on_bound = bucket, on_bound
        self._window = asyncio.Semaphore(window)
        self._out_window = asyncio.Semaphore(window)
        self._response_timeout, self._bind_timeout = response_timeout, bind_timeout
        self._enquire_link_interval = enquire_link_interval
        self._loop = asyncio.get_running_loop()
        self._pending: dict[int, asyncio.Future[Pdu]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._seq = 0
        self._garbage = 0
        self._last_rx = self._loop.time()
        self.peer = str((writer.get_extra_info("peername") or ("?",))[0])
        self.account: Account | None = None
        self.receives = False
        self._transmits = False
        self.closed = asyncio.Event()

    async def serve(self) -> None:
        keepalive = asyncio.create_task(self._keepalive())
        try:
            async with asyncio.timeout(self._bind_timeout) as bind_deadline:
                while self.account is None:
                    if not await self._read_one():
                        return
                bind_deadline.reschedule(None)
            while await self._read_one():
                pass
        except TimeoutError:
            self._log.info("smpp_server.closed", peer=self.peer, reason="no bind or answers unread")
        finally:
            self.close()
            keepalive.cancel()
            tasks = [*self._tasks, keepalive]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def close(self, *, abort: bool = False) -> None:
        """Close; ``abort`` drops what is still unsent (a plain close would wait for a peer that never reads)."""
        if self.closed.is_set():
            return
        self.closed.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection closed"))
        if abort:
            self._writer.transport.abort()
        else:
            self._writer.close()

    async def _read_one(self) -> bool:
        """Read and handle one PDU; False when the connection is over."""
        try:
            frame = await read_frame(self._reader, MAX_PDU)
        except PduError as exc:  # the framing cannot be trusted: answer once, then close
            await self._send(GenericNack(command_status=exc.status))
            return False
        except (asyncio.IncompleteReadError, OSError):
            return False
        self._last_rx = self._loop.time()
        try:
            pdu = decode(frame)
        except PduError as exc:  # an intact frame we cannot read: §4.3 generic_nack, and go on
            self._garbage += 1
            if not is_response(exc.command_id or 0):
                await self._send(GenericNack(sequence_number=exc.sequence_number, command_status=exc.status))
            return self._garbage < MAX_GARBAGE
        self._garbage = 0
        return await self._handle(pdu)

    async def _handle(self, pdu: Pdu) -> bool:
        if is_response(pdu.command_id):
            future = self._pending.get(pdu.sequence_number)
            if future is not None and not future.done():
                future.set_result(pdu)
            return True
        seq = pdu.sequence_number
        if isinstance(pdu, BindTransmitter | BindReceiver | BindTransceiver):
            await self._bind(pdu)
        elif isinstance(pdu, SubmitSm):
            if self.account is None or not self._transmits:
                await self._send(SubmitSmResp(sequence_number=seq, command_status=Status.ESME_RINVBNDSTS))
            else:
                await self._window.acquire()  # window full: stop reading (back-pressure), see the top
                task = asyncio.create_task(self._submit(self.account, pdu))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        elif isinstance(pdu, EnquireLink):
            await self._send(EnquireLinkResp(sequence_number=seq))
        elif isinstance(pdu, Unbind):
            await self._send(UnbindResp(sequence_number=seq))
            return False
        else:  # deliver_sm and other requests an SMSC does not take
            await self._send(GenericNack(sequence_number=seq, command_status=Status.ESME_RINVCMDID))
        return True

    async def _bind(self, pdu: BindTransmitter | BindReceiver | BindTransceiver) -> None:
        answer = _BIND_RESP[type(pdu)]
        if self.account is not None:
            await self._send(answer(sequence_number=pdu.sequence_number, command_status=Status.ESME_RALYBND))
            return
        try:
            account = await self._apps.bind(pdu.system_id, pdu.password, self.peer)
        except BindRefused as exc:
            self._log.info("smpp_server.bind_refused", peer=self.peer, system_id=pdu.system_id, reason=str(exc))
            await self._send(answer(sequence_number=pdu.sequence_number, command_status=exc.status))
            return
        self.account = account
        self._transmits = not isinstance(pdu, BindReceiver)
        self.receives = not isinstance(pdu, BindTransmitter)
        await self._send(answer(sequence_number=pdu.sequence_number, system_id=SERVER_SYSTEM_ID))
        self._log.info("smpp_server.bound", peer=self.peer, system_id=account.system_id, bind=type(pdu).__name__)
        self._on_bound(self)

    async def _submit(self, account: Account, pdu: SubmitSm) -> None:
        try:
            status: int = Status.ESME_ROK
            message_id = ""
            if not self._bucket(account).take(self._loop.time()):
                status = Status.ESME_RTHROTTLED
            else:
                try:
                    message_id = await self._apps.submit(account, read_submit(pdu))
                except SubmitRefused as exc:
                    status = exc.status
                except Exception:
                    self._log.exception("smpp_server.submit_failed", system_id=account.system_id)
                    status = Status.ESME_RSYSERR
            resp = SubmitSmResp(sequence_number=pdu.sequence_number, command_status=status, message_id=message_id)
            await self._send(resp)
        finally:
            self._window.release()

    async def deliver(self, pdu: DeliverSm) -> bool:
        """Send a deliver_sm and wait for its answer; True when the ESME took it (ESME_ROK)."""
        async with self._out_window:
            if self.closed.is_set():
                return False
            self._seq = self._seq % 0x7FFFFFFF + 1
            seq = self._seq
            future: asyncio.Future[Pdu] = self._loop.create_future()
            self._pending[seq] = future
            try:
                await self._send(dataclasses.replace(pdu, sequence_number=seq))
                async with asyncio.timeout(self._response_timeout):
                    resp = await future
            except (TimeoutError, ConnectionError):
                return False
            finally:
                self._pending.pop(seq, None)
            return resp.command_status == Status.ESME_ROK

    async def _send(self, pdu: Pdu) -> None:
        """Write and wait until the peer reads (bounded by ``response_timeout``; past it the peer is dropped)."""
        if self.closed.is_set():
            return
        self._writer.write(encode(pdu))
        try:
            async with asyncio.timeout(self._response_timeout):
                await self._writer.drain()
        except (TimeoutError, ConnectionError, OSError):
            self._log.info("smpp_server.closed", peer=self.peer, reason="answers left unread")
            self.close(abort=True)

    async def _keepalive(self) -> None:
        """§4.11: enquire_link after a quiet interval; no answer closes the connection."""
        while not self.closed.is_set():
            idle = self._loop.time() - self._last_rx
            if idle < self._enquire_link_interval:
                await asyncio.sleep(self._enquire_link_interval - idle)
                continue
            self._seq = seq = self._seq % 0x7FFFFFFF + 1
            future: asyncio.Future[Pdu] = self._loop.create_future()
            self._pending[seq] = future
            await self._send(EnquireLink(sequence_number=seq))
            try:
                async with asyncio.timeout(self._response_timeout):
                    await future
            except (TimeoutError, ConnectionError):
                self.close()
            finally:
                self._pending.pop(seq, None)
