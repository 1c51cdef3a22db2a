"""The SMSC simulator's server: the TCP listener and the SMPP 3.4 session of each ESME connected to it.

Each submit_sm is answered in its own task, so ``delay`` overlaps like a real SMSC's latency and a client's
window shows up in ``max_outstanding``. Receipts go out with or after the submit_sm_resp (``receipt_delay``:
alone, a random time later); what they and MO messages look like is `smsc_pdus`.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from parley.channels.smpp_pdu import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DeliverSmResp,
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
    read_frame,
)
from parley.testing.smsc_knobs import SmscKnobs, _Connection
from parley.testing.smsc_pdus import ReceivedSubmit, receipt_pdu, received_submit


class SmscSimulator(SmscKnobs):
    """An SMSC on ``host:port`` (port 0 picks a free one; read ``.port`` after start)."""

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
        submit = received_submit(f"{next(self._ids):x}", conn.system_id, pdu)
        self.received.append(submit)
        if self.echo:
            udh = submit.udh
            part = f" part {udh.seq}/{udh.total} ref {udh.ref}" if udh else ""
            route = f"{pdu.source_addr} -> {pdu.destination_addr}"
            print(f"submit_sm {submit.message_id} {route}{part}: {submit.text}", flush=True)
        return submit

    def _send_receipt(self, conn: _Connection, submit: ReceivedSubmit) -> None:
        """Send the receipt of ``submit`` on its own connection, or on another bound to receive if it is not."""
        target = conn if conn.receives else next((c for c in self._connections if c.receives), None)
        if target is None:
            return
        now = datetime.now(UTC)
        self.receipts_sent += 1
        pdu = receipt_pdu(submit, next(target.seq), stat=self.receipt_stat, with_tlvs=self.receipt_tlvs, at=now)
        target.write(pdu)
