"""What an ESME's submit_sm asks for (SMPP 3.4 §4.4.1), read by a pure function: no I/O, never trusts the peer.

The user data comes as short_message, or in the message_payload TLV (§5.3.2.32, up to 64 KiB, one message
however long); a part of a long message says which it is in a user data header (esm_class UDHI, GSM 03.40
§9.2.3.24) or in the sar_* TLVs (§5.3.2.22-24). Parts are kept as octets and decoded once joined, so a
GSM-7 escape or a UCS-2 surrogate pair split over two parts survives.
"""

from __future__ import annotations

from dataclasses import dataclass

from parley.channels.smpp import decode_text
from parley.channels.smpp_pdu import (
    DC_DEFAULT,
    DC_IA5,
    DC_LATIN1,
    DC_UCS2,
    ESM_UDHI,
    Concat,
    Status,
    SubmitSm,
    Tag,
    parse_udh,
)
from parley.core.concat import impossible

# §5.2.19 data codings Parley takes: SMSC default (GSM 03.38), IA5, Latin-1, UCS-2, GSM with a message class.
DATA_CODINGS = frozenset({DC_DEFAULT, DC_IA5, DC_LATIN1, DC_UCS2, 0xF0, 0xF1, 0xF2, 0xF3})
# §5.2.17 registered_delivery bits 1-0: 01 a receipt on success or failure, 10 on failure only.
RECEIPT_ASKED = 0x03


class SubmitRefused(ValueError):
    """The submit_sm cannot be taken; ``status`` is the command_status of its submit_sm_resp."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Submission:
    source: str
    source_ton: int
    source_npi: int
    destination: str
    dest_ton: int
    dest_npi: int
    data_coding: int
    octets: bytes  # the user data without its header
    concat: Concat | None  # which part of a long message this is; None: a whole message
    receipt: bool  # registered_delivery asked for a delivery receipt

    @property
    def text(self) -> str:
        return decode_text(self.octets, self.data_coding)


def read_submit(pdu: SubmitSm) -> Submission:
    """The submission a submit_sm carries; raises `SubmitRefused` with the status to answer."""
    if pdu.data_coding not in DATA_CODINGS:
        raise SubmitRefused(f"data_coding 0x{pdu.data_coding:02X} is not taken", Status.ESME_RSUBMITFAIL)
    if Tag.MESSAGE_PAYLOAD in pdu.tlvs and pdu.short_message:
        # §5.3.2.32: message_payload and short_message are not both used
        raise SubmitRefused("both short_message and message_payload", Status.ESME_RINVMSGLEN)
    data, concat = pdu.payload, None
    if pdu.esm_class & ESM_UDHI:
        try:
            concat, data = parse_udh(data)
        except ValueError as exc:
            raise SubmitRefused(str(exc), Status.ESME_RINVMSGLEN) from None
    elif Tag.SAR_MSG_REF_NUM in pdu.tlvs:
        sar = pdu.tlvs
        total, seq = sar.get(Tag.SAR_TOTAL_SEGMENTS, b""), sar.get(Tag.SAR_SEGMENT_SEQNUM, b"")
        ref = sar[Tag.SAR_MSG_REF_NUM]
        if len(ref) != 2 or len(total) != 1 or len(seq) != 1:  # §5.3.2.22-24: Integer 2, 1, 1
            raise SubmitRefused("sar_* TLVs of the wrong size or missing", Status.ESME_RSUBMITFAIL)
        concat = Concat(int.from_bytes(ref), total[0], seq[0])
    if concat is not None:
        if impossible(concat.total, concat.seq) is not None:
            raise SubmitRefused(f"part {concat.seq} of {concat.total}", Status.ESME_RSUBMITFAIL)
        if concat.total == 1:
            concat = None
    if not data:
        raise SubmitRefused("no user data", Status.ESME_RINVMSGLEN)
    return Submission(
        source=pdu.source_addr,
        source_ton=pdu.source_addr_ton,
        source_npi=pdu.source_addr_npi,
        destination=pdu.destination_addr,
        dest_ton=pdu.dest_addr_ton,
        dest_npi=pdu.dest_addr_npi,
        data_coding=pdu.data_coding,
        octets=data,
        concat=concat,
        receipt=bool(pdu.registered_delivery & RECEIPT_ASKED),
    )
