"""An SMSC simulator speaking SMPP 3.4 over real TCP, for tests and for trying Parley by hand.

    python -m parley.testing.smsc --port 2775      # prints every message and answers with DELIVRD receipts

In tests::

    async with SmscSimulator(port=0, delay=0.02) as smsc:
        channel = SmppChannel("t", "127.0.0.1", smsc.port, "parley", "secret", ...)
        ...
        await smsc.wait_for(lambda: len(smsc.received) == 3)

Each submit_sm is answered in its own task, so ``delay`` overlaps like a real SMSC's latency and a
client's window shows up in ``max_outstanding``. What happens to the next submits (``throttle_next``,
``fail_next``, ``disconnect_after``) is decided in arrival order. ``restart()`` drops the connections and
starts the message ids again from 0x1000, as a real SMSC's restart does.

``receipt_delay=(0.5, 5.0)`` sends each delivery receipt alone, a random 0.5–5 s after its submit_sm_resp, as a
real SMSC does (receipts then arrive one by one, in another order than the submits); ``receipts_sent`` counts them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from parley.channels.smpp_pdu import (
    DC_DEFAULT,
    DC_UCS2,
    ESM_RECEIPT,
    ESM_UDHI,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    Concat,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    PduError,
    Status,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Unbind,
    UnbindResp,
    build_udh,
    decode,
    encode,
    parse_udh,
    read_frame,
)
from parley.core.numbers import to_smpp_address
from parley.core.text import Encoding, decode_gsm7, decode_ucs2, encode_gsm7, encode_ucs2, split

# §5.2.28 message_state for the receipt TLV, by the stat the receipt text carries
_MESSAGE_STATE = {"ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "ACCEPTD": 6,
                  "UNKNOWN": 7, "REJECTD": 8}  # fmt: skip


@dataclass(frozen=True)
class ReceivedSubmit:
    """One submit_sm as the simulator took it: ``text`` is this part's text, decoded, without the UDH."""

    message_id: str
    system_id: str  # of the bind it came on
    pdu: SubmitSm  # everything else as sent: addresses with TON/NPI, esm_class, data_coding, …
    udh: Concat | None
    text: str


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


class SmscSimulator:
    """An SMSC on ``host:port`` (port 0 picks a free one; read ``.port`` after start)."""

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

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=2.0)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> SmscSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

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
        segments = split(text)
        gsm7 = segments.encoding is Encoding.GSM7
        ref, total = next(self._refs) % 256, len(segments.parts)
        for seq, part in enumerate(segments.parts, start=1):
            data = encode_gsm7(part) if gsm7 else encode_ucs2(part)
            udh = build_udh(Concat(ref, total, seq)) if concat or total > 1 else b""
            conn.write(
                DeliverSm(
                    sequence_number=next(conn.seq),
                    **_address("source", sender),
                    **_address("dest", to),
                    esm_class=ESM_UDHI if udh else 0,
                    data_coding=DC_DEFAULT if gsm7 else DC_UCS2,
                    short_message=udh + data,
                )
            )
        return total

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds, re-checking whenever the simulator's state changes."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._changed.wait()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # --- the protocol ------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        conn = _Connection(reader, writer)
        self._connections.add(conn)
        try:
            while True:
                frame = await read_frame(reader)
                try:
                    pdu = decode(frame)
                except PduError as exc:
                    conn.write(GenericNack(sequence_number=exc.sequence_number, command_status=exc.status))
                    continue
                self._dispatch(conn, pdu)
                self._notify()
        except (asyncio.IncompleteReadError, OSError, PduError):
            pass
        finally:
            self._connections.discard(conn)
            writer.close()
            for pending in conn.tasks:
                pending.cancel()
            await asyncio.gather(*conn.tasks, return_exceptions=True)
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            if task is not None:
                self._handlers.discard(task)
            self._notify()

    def _dispatch(self, conn: _Connection, pdu: Pdu) -> None:
        if isinstance(pdu, BindTransceiver | BindTransmitter | BindReceiver):
            self._bind(conn, pdu)
        elif isinstance(pdu, SubmitSm):
            if conn.bind is None or conn.bind is BindReceiver:
                conn.write(SubmitSmResp(sequence_number=pdu.sequence_number, command_status=Status.ESME_RINVBNDSTS))
                return
            self.outstanding += 1
            self.max_outstanding = max(self.max_outstanding, self.outstanding)
            task = asyncio.create_task(self._submit(conn, pdu, self._decide()))
            conn.tasks.add(task)
            task.add_done_callback(conn.tasks.discard)
        elif isinstance(pdu, DeliverSmResp):
            self.deliver_responses.append(pdu.command_status)
        elif isinstance(pdu, EnquireLink):
            self.enquire_links += 1
            if self.answer_enquire_link:
                conn.write(EnquireLinkResp(sequence_number=pdu.sequence_number))
        elif isinstance(pdu, EnquireLinkResp):
            self.enquire_link_resps += 1
        elif isinstance(pdu, Unbind):
            conn.write(UnbindResp(sequence_number=pdu.sequence_number))
            conn.writer.close()
        elif not pdu.command_id & 0x80000000:
            conn.write(GenericNack(sequence_number=pdu.sequence_number, command_status=Status.ESME_RINVCMDID))

    def _bind(self, conn: _Connection, pdu: BindTransceiver | BindTransmitter | BindReceiver) -> None:
        """§4.1: check the credentials if configured; a second bind on one connection is ESME_RALYBND."""
        status = Status.ESME_ROK
        if conn.bind is not None:
            status = Status.ESME_RALYBND
        elif self.system_id is not None and pdu.system_id != self.system_id:
            status = Status.ESME_RBINDFAIL
        elif self.password is not None and pdu.password != self.password:
            status = Status.ESME_RINVPASWD
        if status == Status.ESME_ROK:
            conn.bind, conn.system_id = type(pdu), pdu.system_id
            self.binds += 1
        else:
            self.bind_failures += 1
        resp = {BindTransceiver: BindTransceiverResp, BindTransmitter: BindTransmitterResp}.get(
            type(pdu), BindReceiverResp
        )
        conn.write(resp(sequence_number=pdu.sequence_number, command_status=status, system_id="parley-smsc"))

    def _decide(self) -> int | None:
        """The fate of the submit_sm just received: a status to answer with, or None to hang up."""
        if self._disconnect_after is not None:
            if self._disconnect_after == 0:
                self._disconnect_after = None
                return None
            self._disconnect_after -= 1
        return self._fail.pop(0) if self._fail else Status.ESME_ROK

    async def _submit(self, conn: _Connection, pdu: SubmitSm, status: int | None) -> None:
        try:
            if status is None:
                conn.writer.close()
                return
            if status != Status.ESME_ROK:
                await asyncio.sleep(self.delay)
                conn.write(SubmitSmResp(sequence_number=pdu.sequence_number, command_status=status))
                return
            submit = self._record(conn, pdu)
            receipt = self.receipts and pdu.registered_delivery & 0x03
            if receipt and self.receipt_before_resp:
                self._send_receipt(conn, submit)
            await asyncio.sleep(self.delay)
            conn.write(SubmitSmResp(sequence_number=pdu.sequence_number, message_id=submit.message_id))
            if receipt and not self.receipt_before_resp:
                if self.receipt_delay is None:
                    self._send_receipt(conn, submit)
                else:
                    later = asyncio.create_task(self._receipt_later(conn, submit))
                    conn.tasks.add(later)
                    later.add_done_callback(conn.tasks.discard)
        finally:
            self.outstanding -= 1
            self._notify()

    async def _receipt_later(self, conn: _Connection, submit: ReceivedSubmit) -> None:
        low, high = self.receipt_delay or (0.0, 0.0)
        await asyncio.sleep(self._random.uniform(low, high))
        self._send_receipt(conn, submit)
        self._notify()

    def _record(self, conn: _Connection, pdu: SubmitSm) -> ReceivedSubmit:
        data, udh = pdu.payload, None
        if pdu.esm_class & ESM_UDHI:
            udh, data = parse_udh(data)
        submit = ReceivedSubmit(f"{next(self._ids):x}", conn.system_id, pdu, udh, _decode(data, pdu.data_coding))
        self.received.append(submit)
        if self.echo:
            part = f" part {udh.seq}/{udh.total} ref {udh.ref}" if udh else ""
            route = f"{pdu.source_addr} -> {pdu.destination_addr}"
            print(f"submit_sm {submit.message_id} {route}{part}: {submit.text}", flush=True)
        return submit

    def _send_receipt(self, conn: _Connection, submit: ReceivedSubmit) -> None:
        """Appendix B receipt text in a deliver_sm with esm_class 0x04 (§5.2.12), plus TLVs if asked."""
        target = conn if conn.receives else next((c for c in self._connections if c.receives), None)
        if target is None:
            return
        now = datetime.now(UTC).strftime("%y%m%d%H%M")
        dlvrd = "001" if self.receipt_stat == "DELIVRD" else "000"
        text = (
            f"id:{submit.message_id} sub:001 dlvrd:{dlvrd} submit date:{now} done date:{now} "
            f"stat:{self.receipt_stat} err:000 text:{submit.text[:20]}"
        )
        sm = submit.pdu
        tlvs: dict[int, bytes] = {}
        if self.receipt_tlvs:
            tlvs[Tag.RECEIPTED_MESSAGE_ID] = submit.message_id.encode() + b"\0"
            tlvs[Tag.MESSAGE_STATE] = bytes((_MESSAGE_STATE.get(self.receipt_stat, 7),))
        self.receipts_sent += 1
        target.write(
            DeliverSm(
                sequence_number=next(target.seq),
                source_addr_ton=sm.dest_addr_ton,
                source_addr_npi=sm.dest_addr_npi,
                source_addr=sm.destination_addr,
                dest_addr_ton=sm.source_addr_ton,
                dest_addr_npi=sm.source_addr_npi,
                destination_addr=sm.source_addr,
                esm_class=ESM_RECEIPT,
                short_message=text.encode("ascii", "replace"),
                tlvs=tlvs,
            )
        )


def _decode(data: bytes, data_coding: int) -> str:
    if data_coding == DC_DEFAULT:
        return decode_gsm7(data)
    return decode_ucs2(data) if data_coding == DC_UCS2 else data.decode("latin-1")


def _address(prefix: str, value: str) -> dict[str, Any]:
    """An E.164 number as TON 1/NPI 1 digits; anything else as an alphanumeric address (TON 5)."""
    addr, ton, npi = to_smpp_address(value) if value.startswith("+") else (value, 5, 0)
    name = "source_addr" if prefix == "source" else "destination_addr"
    return {name: addr, f"{prefix}_addr_ton": ton, f"{prefix}_addr_npi": npi}


async def _main(args: argparse.Namespace) -> None:
    smsc = SmscSimulator(
        args.host, args.port, system_id=args.system_id, password=args.password, delay=args.delay,
        receipt_stat=args.stat, echo=True,
    )  # fmt: skip
    async with smsc:
        print(f"SMSC simulator listening on {args.host}:{smsc.port} (Ctrl-C to stop)")
        print("To send an inbound SMS to Parley, type: FROM TO TEXT  (e.g. +15557654321 +15551230001 Hello)")
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:  # no terminal (or end of input): keep serving
                await asyncio.Event().wait()
            _send_typed(smsc, line)


def _send_typed(smsc: SmscSimulator, line: str) -> None:
    parts = line.strip().split(maxsplit=2)
    if len(parts) < 3:
        if parts:
            print("usage: FROM TO TEXT")
        return
    sent = smsc.send_mo(parts[0], parts[1], parts[2])
    print(f"-> {parts[0]} to {parts[1]}: {sent} part(s) sent to {smsc.bound_sessions} bound session(s)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="An SMPP 3.4 SMSC simulator that prints what it receives.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2775)
    parser.add_argument("--system-id", default=None, help="accept only this system_id")
    parser.add_argument("--password", default=None, help="accept only this password")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each submit_sm_resp")
    parser.add_argument("--stat", default="DELIVRD", help="the stat of every delivery receipt")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
