"""SMPP 3.4 client channel: one bind_transceiver per channel, kept up in the background.

Delivery semantics, for whoever retries what this channel raises:
- A submit_sm that got no answer (`TimedOut`) or whose connection dropped before the answer
  (`Unreachable`) may still have been taken by the SMSC: a retry can duplicate the SMS (at-least-once).
- ESME_RTHROTTLED / ESME_RMSGQFUL raise `Throttled`; ESME_RSYSERR, ESME_RX_T_APPN and ESME_RINVBNDSTS
  (the SMSC's own temporary trouble) raise `Unreachable`; any other status raises `Rejected` with the
  status as ``code`` (``0x0000000B``). For a long text one part may have been taken and another refused:
  a retry resends every part.
- Receipts and MO messages reach the callbacks before deliver_sm_resp is sent: if a callback raises, the
  SMSC is asked to redeliver (ESME_RX_T_APPN), so a callback may see the same receipt or MO twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Literal

import structlog

from parley.channels.base import Inbound, OnInbound, OnReceipt, Outgoing, Sent
from parley.channels.smpp_pdu import (
    DC_DEFAULT,
    DC_IA5,
    DC_UCS2,
    ESM_UDHI,
    BindTransceiver,
    Concat,
    DeliverSm,
    GenericNack,
    Status,
    SubmitSm,
    SubmitSmResp,
    Tag,
    build_udh,
    parse_udh,
    status_name,
)
from parley.channels.smpp_receipts import is_receipt, parse_receipt
from parley.channels.smpp_session import Pacer, SmppSession
from parley.core.delivery import DeliveryError, Rejected, Throttled, Unreachable
from parley.core.numbers import InvalidNumber, Ton, from_smpp_address, to_smpp_address
from parley.core.text import Encoding, decode_gsm7, decode_ucs2, encode_gsm7, encode_ucs2, split

State = Literal["connecting", "bound", "down"]


def submit_error(status: int) -> DeliveryError:
    """What a non-zero submit_sm_resp command_status (§5.1.3) means for the dispatcher."""
    name = status_name(status)
    label = name if name.startswith("0x") else f"{name} (0x{status:08X})"
    if status in (Status.ESME_RTHROTTLED, Status.ESME_RMSGQFUL):
        return Throttled(label)
    if status in (Status.ESME_RSYSERR, Status.ESME_RX_T_APPN, Status.ESME_RINVBNDSTS):
        return Unreachable(label)
    return Rejected(label, code=f"0x{status:08X}")


def decode_text(data: bytes, data_coding: int) -> str:
    """User data as text by §5.2.19 data_coding; unknown codings are shown as Latin-1 rather than dropped."""
    if data_coding == DC_DEFAULT or data_coding & 0xFC == 0xF0:  # 0xF0-0xF3: GSM 7 bit with a message class
        return decode_gsm7(data)
    if data_coding == DC_UCS2:
        return decode_ucs2(data)
    if data_coding == DC_IA5:
        return data.decode("ascii", "replace")
    return data.decode("latin-1")  # DC_LATIN1, and codings we do not know: keep the octets visible


def parse_mo(pdu: DeliverSm, default_region: str) -> Inbound:
    """An MO deliver_sm (§4.6.1) as an `Inbound`; a concatenated part says which it is in ``extra``."""
    data, extra = pdu.payload, {}
    concat: Concat | None = None
    if pdu.esm_class & ESM_UDHI:
        with contextlib.suppress(ValueError):  # a broken UDH: show the octets rather than lose the message
            concat, data = parse_udh(data)
    elif Tag.SAR_MSG_REF_NUM in pdu.tlvs:  # §5.3.2.22-24: concatenation told in TLVs instead of a UDH
        sar = pdu.tlvs
        concat = Concat(
            int.from_bytes(sar[Tag.SAR_MSG_REF_NUM]),
            int.from_bytes(sar.get(Tag.SAR_TOTAL_SEGMENTS, b"\1")),
            int.from_bytes(sar.get(Tag.SAR_SEGMENT_SEQNUM, b"\1")),
        )
    if concat is not None:
        extra = {
            "concat_ref": str(concat.ref),
            "concat_total": str(concat.total),
            "concat_seq": str(concat.seq),
        }

    def e164(addr: str, ton: int, npi: int) -> str:
        try:
            return from_smpp_address(addr, ton, npi, default_region)
        except InvalidNumber:
            return addr  # keep what the carrier sent rather than lose the message

    return Inbound(
        sender=e164(pdu.source_addr, pdu.source_addr_ton, pdu.source_addr_npi),
        to=e164(pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi),
        text=decode_text(data, pdu.data_coding),
        extra=extra,
    )


class SmppChannel:
    """Sends through an SMSC over SMPP 3.4 and hands its receipts and MO messages to the callbacks."""

    kind: ClassVar[str] = "smpp"

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        system_id: str,
        password: str,
        *,
        system_type: str = "",
        on_receipt: OnReceipt,
        on_inbound: OnInbound,
        default_region: str = "US",
        window: int = 32,
        throughput: float | None = None,
        enquire_link_interval: float = 30.0,
        response_timeout: float = 10.0,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        bind_wait: float = 2.0,
        source_ton: int | None = None,
        source_npi: int | None = None,
        registered_delivery: bool = True,
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        if len(system_id) > 15 or len(password) > 8:  # §4.1.1: C-Octet Strings of 16 and 9 octets
            raise ValueError("SMPP system_id is at most 15 characters and password at most 8")
        self.name, self.host, self.port = name, host, port
        self.system_id, self.system_type = system_id, system_type
        self._password = password  # only ever goes into the bind PDU, whose repr hides it
        self._on_receipt, self._on_inbound = on_receipt, on_inbound
        self.default_region = default_region
        self.window, self.response_timeout = window, response_timeout
        self.enquire_link_interval = enquire_link_interval
        self.reconnect_min, self.reconnect_max, self.bind_wait = reconnect_min, reconnect_max, bind_wait
        self.source_ton, self.source_npi = source_ton, source_npi
        self.registered_delivery = registered_delivery
        self._pacer = Pacer(throughput) if throughput else None
        self._log: Any = structlog.get_logger().bind(channel=name, host=host, port=port, system_id=system_id)
        self._state: State = "down"
        self.last_error: str | None = None
        self._session: SmppSession | None = None
        self._bound = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._concat_ref = random.randrange(256)  # 8-bit UDH reference, per bind

    def __repr__(self) -> str:
        return f"SmppChannel({self.name!r}, {self.host}:{self.port}, system_id={self.system_id!r})"

    @property
    def state(self) -> State:
        """The bind as the admin console shows it: "connecting", "bound" or "down" (see `last_error`)."""
        return self._state

    async def start(self) -> None:
        """Bind in the background and keep the bind up; never raises when the SMSC is down."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._maintain(), name=f"smpp:{self.name}")

    async def wait_bound(self, timeout: float) -> None:
        """Wait until bound; raises TimeoutError. For tests and start-up checks."""
        async with asyncio.timeout(timeout):
            await self._bound.wait()

    async def stop(self) -> None:
        """Unbind politely (one second at most), close the socket, end the background task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        session, self._session = self._session, None
        if session is not None:
            await session.unbind(timeout=1.0)
            self._log.info("smpp.unbound")
        self._bound.clear()
        self._state = "down"

    async def send(self, msg: Outgoing) -> Sent:
        """Submit one message (one submit_sm per segment) and return the SMSC's message id per segment."""
        session = await self._bound_session()
        pdus = self._submits(msg)
        before_write = _once(msg.before_submit) if msg.before_submit is not None else None
        results = await asyncio.gather(
            *(self._submit(session, pdu, before_write) for pdu in pdus), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            for error in errors:
                if not isinstance(error, DeliveryError):
                    raise error
            raise next((e for e in errors if isinstance(e, DeliveryError) and not e.retryable), errors[0])
        return Sent(carrier_ids=tuple(str(r) for r in results))

    # --- sending -----------------------------------------------------------------------------------

    async def _bound_session(self) -> SmppSession:
        if self._session is None and self._state == "connecting":
            with contextlib.suppress(TimeoutError):  # a bind in progress is worth a short wait
                await self.wait_bound(self.bind_wait)
        session = self._session
        if session is None or session.closed:
            raise Unreachable(f"SMPP {self.name} is not bound: {self.last_error or self._state}")
        return session

    def _submits(self, msg: Outgoing) -> list[SubmitSm]:
        """§4.4.1 submit_sm per segment; a long text gets a concatenation UDH (§5.2.12 esm_class UDHI)."""
        try:
            source, source_ton, source_npi = self._source_address(msg.sender)
            dest, dest_ton, dest_npi = to_smpp_address(msg.to)
            segments = split(msg.text, msg.encoding)
        except ValueError as exc:  # InvalidNumber, or text the encoding cannot carry
            raise Rejected(str(exc)) from exc
        gsm7 = segments.encoding is Encoding.GSM7
        encode_part = encode_gsm7 if gsm7 else encode_ucs2
        common: dict[str, Any] = {
            "source_addr_ton": source_ton,
            "source_addr_npi": source_npi,
            "source_addr": source,
            "dest_addr_ton": dest_ton,
            "dest_addr_npi": dest_npi,
            "destination_addr": dest,
            "registered_delivery": 1 if self.registered_delivery else 0,  # §5.2.17: receipt on final state
            "data_coding": DC_DEFAULT if gsm7 else DC_UCS2,  # §5.2.19: GSM 7 bit unpacked, or UCS-2
        }
        if len(segments.parts) == 1:
            return [SubmitSm(short_message=encode_part(segments.parts[0]), **common)]
        self._concat_ref = (self._concat_ref + 1) % 256
        total = len(segments.parts)
        return [
            SubmitSm(
                esm_class=ESM_UDHI,
                short_message=build_udh(Concat(self._concat_ref, total, seq)) + encode_part(part),
                **common,
            )
            for seq, part in enumerate(segments.parts, start=1)
        ]

    def _source_address(self, sender: str) -> tuple[str, int, int]:
        """§5.2.5/§5.2.6: E.164 → TON 1/NPI 1; digits (short code) → TON 0/NPI 1; text → TON 5/NPI 0."""
        if sender.startswith("+"):
            addr, ton, npi = to_smpp_address(sender)
        elif sender.isdigit():
            addr, ton, npi = sender, Ton.UNKNOWN, 1
        elif sender.isascii() and sender.isprintable() and 0 < len(sender) <= 20:
            addr, ton, npi = sender, Ton.ALPHANUMERIC, 0
        else:
            raise InvalidNumber(f'sender ID "{sender}" must be 1-20 printable ASCII characters')
        ton = self.source_ton if self.source_ton is not None else ton
        return addr, ton, self.source_npi if self.source_npi is not None else npi

    async def _submit(
        self, session: SmppSession, pdu: SubmitSm, before_write: Callable[[], Awaitable[None]] | None = None
    ) -> str:
        if self._pacer is not None:
            await self._pacer.wait()
        resp = await session.request(pdu, windowed=True, before_write=before_write)
        if isinstance(resp, SubmitSmResp) and resp.command_status == Status.ESME_ROK:
            return resp.message_id
        if isinstance(resp, GenericNack) and resp.command_status == Status.ESME_ROK:
            raise submit_error(Status.ESME_RSYSERR)  # a nack that names no error
        raise submit_error(resp.command_status)

    # --- receiving ---------------------------------------------------------------------------------

    async def _on_deliver(self, pdu: DeliverSm) -> None:
        """§4.6.1 deliver_sm: a receipt (esm_class or receipt TLVs) or an MO message."""
        if is_receipt(pdu) or Tag.RECEIPTED_MESSAGE_ID in pdu.tlvs:
            receipt = parse_receipt(pdu)
            if receipt is None:  # nothing to match it by; acknowledge so the SMSC stops resending it
                self._log.warning("smpp.receipt_without_id", text=pdu.payload[:160].decode("latin-1"))
                return
            await self._on_receipt(receipt)
            return
        await self._on_inbound(parse_mo(pdu, self.default_region))

    # --- the bind ----------------------------------------------------------------------------------

    async def _maintain(self) -> None:
        """Connect, bind, wait for the connection to end, back off (with jitter), again; until stopped."""
        delay = self.reconnect_min
        while True:
            self._state = "connecting"
            try:
                session = await SmppSession.connect(
                    self.host,
                    self.port,
                    BindTransceiver(system_id=self.system_id, password=self._password, system_type=self.system_type),
                    on_deliver=self._on_deliver,
                    window=self.window,
                    response_timeout=self.response_timeout,
                    enquire_link_interval=self.enquire_link_interval,
                    log=self._log,
                )
            except Exception as exc:  # refused, timed out, bind rejected, a bug: log it and try again later
                self._state, self.last_error = "down", str(exc) or type(exc).__name__
                self._log.warning("smpp.bind_failed", error=self.last_error, retry_in=round(delay, 2))
            else:
                delay = self.reconnect_min
                self._session, self._state, self.last_error = session, "bound", None
                self._bound.set()
                self._log.info("smpp.bound")
                reason = await session.wait_closed()
                self._bound.clear()
                self._state, self.last_error = "down", reason
                self._log.warning("smpp.connection_lost", reason=reason)
                await session.aclose(reason)
                self._session = None
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self.reconnect_max)


def _once(callback: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """The first call runs ``callback``; later calls (the other parts of a long message) wait for it."""
    task: asyncio.Task[None] | None = None

    async def run() -> None:
        nonlocal task
        if task is None:
            task = asyncio.ensure_future(callback())
        await asyncio.shield(task)

    return run
