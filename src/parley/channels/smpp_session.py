"""One SMPP connection, ESME side: framing, sequence numbers, the submit window and the peer's requests.

`SmppChannel` owns the reconnect loop; a session lives exactly as long as one TCP connection. Requests
are pipelined: each gets a sequence number and a future, responses are matched by sequence_number
(§3.2) whatever order they come in, and at most ``window`` submit_sm are outstanding at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from parley.channels.smpp_pdu import (
    BindTransceiver,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    PduError,
    Status,
    Unbind,
    UnbindResp,
    decode,
    encode,
    is_response,
    read_frame,
    status_name,
)
from parley.core.delivery import TimedOut, Unreachable
from parley.logs import Failures

OnDeliver = Callable[[DeliverSm], Awaitable[None]]

# The peer's deliver_sm being handled at once, per session. Past this many unanswered, the session stops
# reading: TCP pushes back on the SMSC instead of an unbounded pile of tasks whose answers come later and
# later (past the SMSC's response timeout, which makes it deliver again).
MAX_UNANSWERED_DELIVER = 128


class BindRefused(Exception):
    """The SMSC answered the bind with an error (wrong system_id or password, …)."""


class SmppSession:
    """A bound (or binding) connection. Call `start`, then `request`; `wait_closed` says why it ended."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        on_deliver: OnDeliver,
        window: int,
        response_timeout: float,
        enquire_link_interval: float,
        log: Any,
        max_unanswered: int = MAX_UNANSWERED_DELIVER,
    ) -> None:
        self._reader, self._writer = reader, writer
        self._deliver_slots = asyncio.Semaphore(max_unanswered)
        self._on_deliver = on_deliver
        self._window = asyncio.Semaphore(window)
        self._response_timeout = response_timeout
        self._enquire_link_interval = enquire_link_interval
        self._log = log
        # A deliver_sm that cannot be stored is delivered again and again: its traceback once, then counts.
        self._deliver_failures = Failures(log)
        self._pending: dict[int, asyncio.Future[Pdu]] = {}
        self._seq = 0
        self._loop = asyncio.get_running_loop()
        self._last_rx = self._loop.time()
        self._tasks: set[asyncio.Task[None]] = set()  # the peer's deliver_sm being handled
        self._reader_task: asyncio.Task[None] | None = None
        self._keepalive_task: asyncio.Task[None] | None = None
        self._done = asyncio.Event()
        self._out: list[bytes] = []  # PDUs written in this turn of the event loop, sent together at its end
        self.close_reason = ""

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        bind: BindTransceiver,
        *,
        on_deliver: OnDeliver,
        window: int,
        response_timeout: float,
        enquire_link_interval: float,
        log: Any,
    ) -> SmppSession:
        """Open TCP, bind (§4.1.5) and return the bound session.

        Raises OSError or TimeoutError (no connection), `BindRefused`, `TimedOut` or `Unreachable`.
        """
        async with asyncio.timeout(response_timeout):
            reader, writer = await asyncio.open_connection(host, port)
        # Nagle plus delayed ACK would hold small PDUs back ~40 ms; asyncio sets this already, we insist.
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = cls(
            reader,
            writer,
            on_deliver=on_deliver,
            window=window,
            response_timeout=response_timeout,
            enquire_link_interval=enquire_link_interval,
            log=log,
        )
        session.start()
        try:
            resp = await session.request(bind)
            if resp.command_status != Status.ESME_ROK:
                raise BindRefused(f"bind refused: {status_name(resp.command_status)}")
        except BaseException:
            await session.aclose("bind failed")
            raise
        return session

    @property
    def closed(self) -> bool:
        return self._done.is_set()

    def start(self) -> None:
        self._reader_task = asyncio.create_task(self._read_loop())
        self._keepalive_task = asyncio.create_task(self._keepalive())

    async def request(
        self,
        pdu: Pdu,
        *,
        windowed: bool = False,
        timeout: float | None = None,
        before_write: Callable[[], Awaitable[None]] | None = None,
    ) -> Pdu:
        """Send ``pdu`` with the next sequence number and return the peer's response, whatever its status.

        Raises `Unreachable` if the connection is or goes down before the response (the peer may still
        have acted on the request), `TimedOut` if no response comes within the timeout.
        """
        async with self._window if windowed else contextlib.nullcontext():
            if before_write is not None:  # holding a window slot: the PDU goes out right after this
                await before_write()
            if self.closed:
                raise Unreachable(f"SMPP connection closed: {self.close_reason}")
            self._seq = self._seq % 0x7FFFFFFF + 1  # §3.2: 0x00000001..0x7FFFFFFF, then wrap
            seq = self._seq
            future: asyncio.Future[Pdu] = self._loop.create_future()
            self._pending[seq] = future
            try:
                self._write(pdu, seq)
                async with asyncio.timeout(timeout or self._response_timeout):
                    return await future
            except TimeoutError:
                raise TimedOut(f"no response to {type(pdu).__name__} within the timeout") from None
            finally:
                self._pending.pop(seq, None)

    async def unbind(self, timeout: float) -> None:
        """§4.2: say goodbye politely, then close whatever the peer answers."""
        if not self.closed:
            with contextlib.suppress(TimedOut, Unreachable):
                await self.request(Unbind(), timeout=timeout)
        await self.aclose("unbound", grace=timeout)

    async def wait_closed(self) -> str:
        await self._done.wait()
        return self.close_reason

    def close(self, reason: str) -> None:
        """Drop the connection now; requests still waiting fail with `Unreachable` (they may be retried)."""
        if self.closed:
            return
        self._flush()  # what was written before the close still goes (an unbind_resp, a generic_nack)
        self.close_reason = reason
        self._done.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(Unreachable(f"SMPP connection lost: {reason}"))
        self._writer.close()

    async def aclose(self, reason: str, grace: float = 1.0) -> None:
        """Close, give the peer's deliver_sm in hand ``grace`` seconds to finish, and reap every task."""
        self.close(reason)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)
        current = asyncio.current_task()
        tasks = [t for t in (*self._tasks, self._reader_task, self._keepalive_task) if t and t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    def _write(self, pdu: Pdu, sequence_number: int | None = None) -> None:
        # StreamWriter.write only buffers: no per-PDU blocking. A peer that stops reading shows up as a
        # growing buffer; responses then time out and enquire_link drops the connection.
        # The PDUs of one turn of the event loop (the dispatcher hands over a claim's worth of messages at once)
        # go out in one write: a send() system call per PDU was a tenth of the send path's CPU (issue 15).
        if not self.closed:
            if not self._out:
                self._loop.call_soon(self._flush)
            self._out.append(encode(pdu, sequence_number))

    def _flush(self) -> None:
        out, self._out = self._out, []
        if out and not self.closed:
            self._writer.write(b"".join(out))

    async def _read_loop(self) -> None:
        reason = "closed by peer"
        try:
            while True:
                frame = await read_frame(self._reader)
                self._last_rx = self._loop.time()
                try:
                    pdu = decode(frame)
                except PduError as exc:
                    if exc.status != Status.ESME_RINVCMDID:
                        raise
                    # §4.3: an unknown command in an intact frame is answered, and the session goes on.
                    self._log.warning("smpp.unknown_command", command_id=f"0x{exc.command_id or 0:08X}")
                    if not is_response(exc.command_id or 0):
                        self._write(GenericNack(sequence_number=exc.sequence_number, command_status=exc.status))
                    continue
                if isinstance(pdu, DeliverSm):
                    await self._deliver_slots.acquire()  # released once answered: back-pressure (see the top)
                self._dispatch(pdu)
        except PduError as exc:
            # The framing cannot be trusted any more: nack if we can, drop the connection, reconnect.
            reason = f"malformed PDU from peer: {exc}"
            self._write(GenericNack(sequence_number=exc.sequence_number, command_status=exc.status))
        except (asyncio.IncompleteReadError, OSError) as exc:
            reason = f"connection lost: {exc!r}" if isinstance(exc, OSError) else reason
        self.close(reason)

    def _dispatch(self, pdu: Pdu) -> None:
        if is_response(pdu.command_id):
            future = self._pending.get(pdu.sequence_number)
            if future is not None and not future.done():
                future.set_result(pdu)
            else:
                self._log.warning("smpp.late_response", pdu=type(pdu).__name__, seq=pdu.sequence_number)
        elif isinstance(pdu, DeliverSm):
            # In its own task: a slow callback must not hold up the submit_sm_resp queued behind it.
            task = asyncio.create_task(self._answer_deliver(pdu))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(pdu, EnquireLink):
            self._write(EnquireLinkResp(sequence_number=pdu.sequence_number))
        elif isinstance(pdu, Unbind):
            self._write(UnbindResp(sequence_number=pdu.sequence_number))
            self.close("unbound by peer")
        else:  # a request an ESME does not take (submit_sm, bind…): §4.3 generic_nack
            self._write(GenericNack(sequence_number=pdu.sequence_number, command_status=Status.ESME_RINVCMDID))

    async def _answer_deliver(self, pdu: DeliverSm) -> None:
        """§4.6.2: answer only once the callback stored it; on failure ask for redelivery (ESME_RX_T_APPN)."""
        status = Status.ESME_ROK
        try:
            await self._on_deliver(pdu)
        except Exception:
            self._deliver_failures.exception("smpp.deliver_callback_failed", seq=pdu.sequence_number)
            status = Status.ESME_RX_T_APPN
        finally:
            self._deliver_slots.release()
        self._write(DeliverSmResp(sequence_number=pdu.sequence_number, command_status=status))

    async def _keepalive(self) -> None:
        """§4.11 enquire_link after ``interval`` seconds with nothing received; no answer drops the link."""
        while not self.closed:
            idle = self._loop.time() - self._last_rx
            if idle < self._enquire_link_interval:
                await asyncio.sleep(self._enquire_link_interval - idle)
                continue
            try:
                await self.request(EnquireLink())
            except TimedOut:
                self.close("enquire_link unanswered")
            except Unreachable:
                return


class Pacer:
    """At most ``rate`` submit_sm per second: each caller books the next free slot, then sleeps until it."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("throughput must be positive")
        self._interval = 1.0 / rate
        self._next = 0.0

    async def wait(self) -> None:
        now = asyncio.get_running_loop().time()
        at = max(now, self._next)
        self._next = at + self._interval  # booked before sleeping, so concurrent callers never share a slot
        if at > now:
            await asyncio.sleep(at - now)
