"""The SMSC simulator's state and the knobs tests turn: what it is set to do, what it counted, waiting for changes.

`SmscKnobs` is the base of `SmscSimulator` (`smsc_server`), which speaks the protocol and feeds these counters.
What happens to the next submits (``throttle_next``, ``fail_next``, ``disconnect_after``) is decided here
(`_decide`), in arrival order.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable

from parley.channels.smpp_pdu import BindReceiver, BindTransceiver, EnquireLink, Pdu, Status, encode
from parley.testing.smsc_pdus import ReceivedSubmit, mo_pdus


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.bind: type[Pdu] | None = None
        self.system_id = ""
        self.seq = itertools.count(1)
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def receives(self) -> bool:
        return self.bind in (BindTransceiver, BindReceiver)

    def write(self, pdu: Pdu) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode(pdu))


class SmscKnobs:
    """What an `SmscSimulator` is set to do and what it saw; the constructor is the simulator's."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        system_id: str | None = None,
        password: str | None = None,
        delay: float = 0.0,
        receipts: bool = True,
        receipt_stat: str = "DELIVRD",
        receipt_before_resp: bool = False,
        receipt_tlvs: bool = False,
        receipt_delay: tuple[float, float] | None = None,
        answer_enquire_link: bool = True,
        echo: bool = False,
    ) -> None:
        self.host, self.port = host, port
        self.system_id, self.password = system_id, password
        self.delay, self.receipts, self.receipt_stat = delay, receipts, receipt_stat
        self.receipt_before_resp, self.receipt_tlvs = receipt_before_resp, receipt_tlvs
        self.receipt_delay = receipt_delay
        self.receipts_sent = 0
        self._random = random.Random()
        self.answer_enquire_link, self.echo = answer_enquire_link, echo
        self.received: list[ReceivedSubmit] = []
        self.deliver_responses: list[int] = []  # command_status of each deliver_sm_resp the ESMEs sent
        self.enquire_links = 0  # enquire_link received from ESMEs
        self.enquire_link_resps = 0  # enquire_link_resp received (answers to `send_enquire_link`)
        self.binds = 0  # successful binds, all time
        self.bind_failures = 0
        self.outstanding = 0  # submit_sm received and not yet answered
        self.max_outstanding = 0
        self._fail: list[int] = []
        self._disconnect_after: int | None = None
        self._ids = itertools.count(0x1000)
        self._refs = itertools.count(1)
        self._connections: set[_Connection] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Event()

    # --- knobs for tests ---------------------------------------------------------------------------

    @property
    def bound_sessions(self) -> int:
        return sum(1 for c in self._connections if c.bind is not None)

    def throttle_next(self, n: int) -> None:
        """The next ``n`` submit_sm (after those already set to fail) are answered ESME_RTHROTTLED."""
        self.fail_next(n, Status.ESME_RTHROTTLED)

    def fail_next(self, n: int, status: int) -> None:
        """The next ``n`` submit_sm (after those already set to fail) are answered with ``status``."""
        self._fail += [status] * n

    def disconnect_after(self, n: int) -> None:
        """Answer the next ``n`` submit_sm, then close the connection on the one after, unanswered."""
        self._disconnect_after = n

    def drop_connections(self) -> None:
        """Close every connection, as a crashing or restarting SMSC would."""
        for conn in list(self._connections):
            conn.writer.close()

    def restart(self) -> None:
        """Drop every connection and start message ids again at 0x1000, as a restarted SMSC does: its ids
        are not unique over time, so an ESME must not treat them as keys."""
        self._ids = itertools.count(0x1000)
        self.drop_connections()

    def send_malformed(self) -> None:
        """Write a frame whose command_length (5) is below the 16-octet header to every connection."""
        for conn in self._connections:
            conn.writer.write(b"\x00\x00\x00\x05garbage")

    def send_enquire_link(self) -> None:
        for conn in self._connections:
            if conn.bind is not None:
                conn.write(EnquireLink(sequence_number=next(conn.seq)))

    def send_mo(self, sender: str, to: str, text: str, *, concat: bool = False) -> int:
        """Deliver an MO message (deliver_sm) to one bound receiver; returns how many parts were sent.

        A text longer than one SMS is always sent in parts with a UDH; ``concat`` forces a UDH even for one.
        """
        conn = next((c for c in self._connections if c.receives), None)
        if conn is None:
            raise RuntimeError("no ESME is bound to receive")
        parts = mo_pdus(sender, to, text, ref=next(self._refs) % 256, concat=concat, sequence=conn.seq)
        for pdu in parts:
            conn.write(pdu)
        return len(parts)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds, re-checking whenever the simulator's state changes."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._changed.wait()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _decide(self) -> int | None:
        """The fate of the submit_sm just received: a status to answer with, or None to hang up."""
        if self._disconnect_after is not None:
            if self._disconnect_after == 0:
                self._disconnect_after = None
                return None
            self._disconnect_after -= 1
        return self._fail.pop(0) if self._fail else Status.ESME_ROK
