"""SMPP 3.4 protocol data units: a pure codec (no I/O but `read_frame`) plus UDH (receipts: `smpp_receipts`).

Every PDU is a frozen dataclass; `encode` turns one into bytes, `decode` turns one frame back and raises
`PduError` (carrying the command id, sequence number and the command_status to answer with) on anything
malformed. Section numbers refer to the SMPP v3.4 specification, issue 1.2.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field, fields
from enum import IntEnum
from typing import Any, ClassVar, Self

HEADER = struct.Struct(">IIII")  # §3.2: command_length, command_id, command_status, sequence_number
MIN_LENGTH = HEADER.size
MAX_LENGTH = 64 * 1024  # far above any legal PDU; guards memory against a peer sending garbage
RESPONSE_BIT = 0x80000000
MAX_MESSAGE_ID_LENGTH = 65  # §5.2.23 message_id: C-Octet String of up to 65 octets
INTERFACE_VERSION = 0x34  # §5.2.4


class Status(IntEnum):
    """§5.1.3 command_status values a client meets in practice; `status_name` covers the rest."""

    ESME_ROK = 0x00
    ESME_RINVMSGLEN = 0x01
    ESME_RINVCMDLEN = 0x02
    ESME_RINVCMDID = 0x03
    ESME_RINVBNDSTS = 0x04
    ESME_RALYBND = 0x05
    ESME_RSYSERR = 0x08
    ESME_RINVSRCADR = 0x0A
    ESME_RINVDSTADR = 0x0B
    ESME_RBINDFAIL = 0x0D
    ESME_RINVPASWD = 0x0E
    ESME_RINVSYSID = 0x0F
    ESME_RMSGQFUL = 0x14
    ESME_RSUBMITFAIL = 0x45
    ESME_RTHROTTLED = 0x58
    ESME_RX_T_APPN = 0x64
    ESME_RX_P_APPN = 0x65
    ESME_RX_R_APPN = 0x66
    ESME_RUNKNOWNERR = 0xFF


def status_name(code: int) -> str:
    """``ESME_RTHROTTLED`` for a known command_status, ``0x00000401`` for a vendor-specific one."""
    try:
        return Status(code).name
    except ValueError:
        return f"0x{code:08X}"


class Tag(IntEnum):
    """§5.3.2 optional parameter (TLV) tags used by Parley."""

    RECEIPTED_MESSAGE_ID = 0x001E
    SAR_MSG_REF_NUM = 0x020C
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    MESSAGE_PAYLOAD = 0x0424
    MESSAGE_STATE = 0x0427


# §5.2.12 esm_class
ESM_RECEIPT = 0x04  # message type bits 5-2 = 0001: SMSC delivery receipt
ESM_INTERMEDIATE = 0x20  # message type bits 5-2 = 1000: intermediate delivery notification
ESM_TYPE_MASK = 0x3C
ESM_UDHI = 0x40  # GSM feature bit 6: short_message starts with a user data header

# §5.2.19 data_coding
DC_DEFAULT = 0x00  # SMSC default alphabet; GSM 03.38, one septet per octet on the wire
DC_IA5 = 0x01
DC_LATIN1 = 0x03
DC_UCS2 = 0x08


class PduError(ValueError):
    """A frame we cannot decode. ``status`` is what to answer in a generic_nack (§4.3)."""

    def __init__(self, message: str, *, command_id: int | None = None, sequence_number: int = 0, status: int):
        super().__init__(message)
        self.command_id, self.sequence_number, self.status = command_id, sequence_number, status


# Body fields carry their wire type in metadata, so one encoder and one decoder serve every PDU and each
# dataclass reads like the spec's table. An int is a C-Octet String's maximum size, NUL included (§3.1).
_U8, _SM, _TLVS = "u8", "sm", "tlvs"


def _c(limit: int, *, secret: bool = False) -> Any:
    return field(default="", repr=not secret, metadata={"wire": limit})


def _u8(default: int = 0) -> Any:
    return field(default=default, metadata={"wire": _U8})


def _wire(cls: type[Pdu]) -> list[tuple[str, int | str]]:
    return [(f.name, f.metadata["wire"]) for f in fields(cls) if "wire" in f.metadata]


class _Reader:
    """Walks one body; running past its end is a `PduError` answered with ESME_RINVMSGLEN."""

    def __init__(self, body: bytes, command_id: int) -> None:
        self.body, self.pos, self.command_id = body, 0, command_id

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.body):
            raise PduError(f"truncated at offset {self.pos}", command_id=self.command_id, status=Status.ESME_RINVMSGLEN)
        self.pos += n
        return self.body[self.pos - n : self.pos]

    def field(self, wire: int | str) -> Any:
        if wire == _U8:
            return self.take(1)[0]
        if wire == _SM:  # sm_length, then that many octets
            return self.take(self.take(1)[0])
        if wire == _TLVS:  # §3.3: tag(2) length(2) value, to the end of the body
            found: dict[int, bytes] = {}
            while self.pos < len(self.body):
                tag, length = struct.unpack(">HH", self.take(4))
                found[tag] = self.take(length)
            return found
        end = self.body.find(b"\0", self.pos)
        return self.take((end if end >= 0 else len(self.body)) + 1 - self.pos)[:-1].decode("latin-1")


@dataclass(frozen=True, kw_only=True)
class Pdu:
    """The §3.2 header every PDU carries; subclasses add their body fields in wire order."""

    command_id: ClassVar[int]
    body_optional: ClassVar[bool] = False  # responses may omit the body when command_status != 0
    sequence_number: int = 0
    command_status: int = 0

    def encode_body(self) -> bytes:
        out = bytearray()
        for name, wire in _wire(type(self)):
            value = getattr(self, name)
            if wire == _U8:
                out.append(value)
            elif wire == _SM:
                if len(value) > 254:  # §4.4.1 sm_length is 0..254; longer text goes in message_payload
                    raise ValueError("short_message longer than 254 octets")
                out += bytes((len(value),)) + value
            elif wire == _TLVS:
                out += b"".join(struct.pack(">HH", tag, len(v)) + v for tag, v in value.items())
            else:
                raw = value.encode("latin-1")
                if len(raw) >= int(wire) or b"\0" in raw:  # the message names no value: it may be a password
                    raise ValueError(f"{name} does not fit a C-Octet String of {wire} octets")
                out += raw + b"\0"
        return bytes(out)

    @classmethod
    def decode_body(cls, r: _Reader, sequence_number: int, command_status: int) -> Self:
        values: dict[str, Any] = {}
        if r.body or not cls.body_optional:
            values = {name: r.field(wire) for name, wire in _wire(cls)}
        return cls(sequence_number=sequence_number, command_status=command_status, **values)


@dataclass(frozen=True, kw_only=True)
class _Bind(Pdu):
    """§4.1.1 bind_transmitter / bind_receiver / bind_transceiver share one body."""

    system_id: str = _c(16)
    password: str = _c(9, secret=True)  # never in a repr, hence never in a log line
    system_type: str = _c(13)
    interface_version: int = _u8(INTERFACE_VERSION)
    addr_ton: int = _u8()
    addr_npi: int = _u8()
    address_range: str = _c(41)


@dataclass(frozen=True, kw_only=True)
class _BindResp(Pdu):
    """§4.1.2: system_id, then optionally sc_interface_version."""

    body_optional = True
    system_id: str = _c(16)
    tlvs: dict[int, bytes] = field(default_factory=dict, metadata={"wire": _TLVS})


@dataclass(frozen=True, kw_only=True)
class _ShortMessage(Pdu):
    """§4.4.1 submit_sm and §4.6.1 deliver_sm share one body (deliver_sm leaves the times empty)."""

    service_type: str = _c(6)
    source_addr_ton: int = _u8()
    source_addr_npi: int = _u8()
    source_addr: str = _c(21)
    dest_addr_ton: int = _u8()
    dest_addr_npi: int = _u8()
    destination_addr: str = _c(21)
    esm_class: int = _u8()
    protocol_id: int = _u8()
    priority_flag: int = _u8()
    schedule_delivery_time: str = _c(17)
    validity_period: str = _c(17)
    registered_delivery: int = _u8()
    replace_if_present_flag: int = _u8()
    data_coding: int = _u8()
    sm_default_msg_id: int = _u8()
    short_message: bytes = field(default=b"", metadata={"wire": _SM})
    tlvs: dict[int, bytes] = field(default_factory=dict, metadata={"wire": _TLVS})

    @property
    def payload(self) -> bytes:
        """The user data: message_payload (§5.3.2.32) when present, else short_message."""
        return self.tlvs.get(Tag.MESSAGE_PAYLOAD, self.short_message)


@dataclass(frozen=True, kw_only=True)
class _MessageIdResp(Pdu):
    """§4.4.2 submit_sm_resp and §4.6.2 deliver_sm_resp."""

    body_optional = True
    message_id: str = _c(65)
    tlvs: dict[int, bytes] = field(default_factory=dict, metadata={"wire": _TLVS})


# §5.1.2 command_id values; a response is its request with bit 31 set. Others get generic_nack.
# fmt: off
class BindTransceiver(_Bind): command_id = 0x00000009  # noqa: E701  §4.1.5
class BindTransmitter(_Bind): command_id = 0x00000002  # noqa: E701  §4.1.1
class BindReceiver(_Bind): command_id = 0x00000001  # noqa: E701  §4.1.3
class BindTransceiverResp(_BindResp): command_id = 0x80000009  # noqa: E701  §4.1.6
class BindTransmitterResp(_BindResp): command_id = 0x80000002  # noqa: E701  §4.1.2
class BindReceiverResp(_BindResp): command_id = 0x80000001  # noqa: E701  §4.1.4
class SubmitSm(_ShortMessage): command_id = 0x00000004  # noqa: E701  §4.4.1
class DeliverSm(_ShortMessage): command_id = 0x00000005  # noqa: E701  §4.6.1
class SubmitSmResp(_MessageIdResp): command_id = 0x80000004  # noqa: E701  §4.4.2
class DeliverSmResp(_MessageIdResp): command_id = 0x80000005  # noqa: E701  §4.6.2
class EnquireLink(Pdu): command_id = 0x00000015  # noqa: E701  §4.11.1
class EnquireLinkResp(Pdu): command_id = 0x80000015  # noqa: E701  §4.11.2
class Unbind(Pdu): command_id = 0x00000006  # noqa: E701  §4.2.1
class UnbindResp(Pdu): command_id = 0x80000006  # noqa: E701  §4.2.2
class GenericNack(Pdu): command_id = 0x80000000  # noqa: E701  §4.3.1
# fmt: on

PDU_TYPES: dict[int, type[Pdu]] = {
    cls.command_id: cls
    for cls in (
        BindTransceiver, BindTransmitter, BindReceiver, BindTransceiverResp, BindTransmitterResp,
        BindReceiverResp, SubmitSm, DeliverSm, SubmitSmResp, DeliverSmResp,
        EnquireLink, EnquireLinkResp, Unbind, UnbindResp, GenericNack,
    )
}  # fmt: skip


def is_response(command_id: int) -> bool:
    return bool(command_id & RESPONSE_BIT)


def encode(pdu: Pdu, sequence_number: int | None = None) -> bytes:
    """One PDU as it goes on the wire (§3.2); ``sequence_number`` instead of the PDU's own (a request numbered
    as it is sent, without copying the PDU)."""
    body = pdu.encode_body()
    seq = pdu.sequence_number if sequence_number is None else sequence_number
    head = HEADER.pack(HEADER.size + len(body), pdu.command_id, pdu.command_status, seq)
    return head + body


def decode(frame: bytes) -> Pdu:
    """One whole frame (header included) back into a PDU; raises `PduError` if it is malformed."""
    if len(frame) < MIN_LENGTH:
        raise PduError(f"frame of {len(frame)} octets has no header", status=Status.ESME_RINVCMDLEN)
    length, command_id, command_status, seq = HEADER.unpack_from(frame)
    if length != len(frame):
        problem, status = f"command_length {length} != {len(frame)}", Status.ESME_RINVCMDLEN
    elif (cls := PDU_TYPES.get(command_id)) is None:
        problem, status = f"unknown command_id 0x{command_id:08X}", Status.ESME_RINVCMDID
    else:
        try:
            return cls.decode_body(_Reader(frame[HEADER.size :], command_id), seq, command_status)
        except PduError as exc:
            exc.sequence_number = seq
            raise
    raise PduError(problem, command_id=command_id, sequence_number=seq, status=status)


async def read_frame(reader: asyncio.StreamReader, max_length: int = MAX_LENGTH) -> bytes:
    """Read one frame; `PduError` if command_length is out of bounds, `IncompleteReadError` at EOF."""
    head = await reader.readexactly(4)
    (length,) = struct.unpack(">I", head)
    if not MIN_LENGTH <= length <= max_length:
        raise PduError(f"command_length {length} out of bounds", status=Status.ESME_RINVCMDLEN)
    return head + await reader.readexactly(length - 4)


# --- user data header (GSM 03.40 §9.2.3.24) --------------------------------------------------------


@dataclass(frozen=True)
class Concat:
    """One part of a concatenated message: information element 0x00 (8-bit ref) or 0x08 (16-bit ref)."""

    ref: int
    total: int
    seq: int


def build_udh(concat: Concat, *, wide_ref: bool = False) -> bytes:
    """The UDH to prepend to short_message for one part (set esm_class |= ESM_UDHI)."""
    if wide_ref:
        return bytes((6, 0x08, 4, concat.ref >> 8 & 0xFF, concat.ref & 0xFF, concat.total, concat.seq))
    return bytes((5, 0x00, 3, concat.ref & 0xFF, concat.total, concat.seq))


def parse_udh(data: bytes) -> tuple[Concat | None, bytes]:
    """Split user data that starts with a UDH into (concatenation info if any, the text octets)."""
    if not data or data[0] + 1 > len(data):
        raise ValueError("user data header longer than the user data")
    header, rest = data[1 : data[0] + 1], data[data[0] + 1 :]
    concat, i = None, 0
    while i + 2 <= len(header):
        iei, length = header[i], header[i + 1]
        value = header[i + 2 : i + 2 + length]
        if iei == 0x00 and len(value) == 3:
            concat = Concat(ref=value[0], total=value[1], seq=value[2])
        elif iei == 0x08 and len(value) == 4:
            concat = Concat(ref=value[0] << 8 | value[1], total=value[2], seq=value[3])
        i += 2 + length
    return concat, rest
