"""What the SMSC simulator makes of PDUs: the submit_sm it keeps, and the receipts and MO parts it writes.

Pure functions of their arguments; the simulator (`smsc_server`) decides when to call them and writes the result.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parley.channels.smpp_pdu import (
    DC_DEFAULT,
    DC_UCS2,
    ESM_RECEIPT,
    ESM_UDHI,
    Concat,
    DeliverSm,
    SubmitSm,
    Tag,
    build_udh,
    parse_udh,
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


def received_submit(message_id: str, system_id: str, pdu: SubmitSm) -> ReceivedSubmit:
    """A submit_sm as the simulator keeps it: the UDH (when esm_class says there is one) apart, the text decoded."""
    data, udh = pdu.payload, None
    if pdu.esm_class & ESM_UDHI:
        udh, data = parse_udh(data)
    return ReceivedSubmit(message_id, system_id, pdu, udh, _decode(data, pdu.data_coding))


def receipt_pdu(submit: ReceivedSubmit, sequence_number: int, *, stat: str, with_tlvs: bool, at: datetime) -> DeliverSm:
    """Appendix B receipt text in a deliver_sm with esm_class 0x04 (§5.2.12), plus TLVs if asked."""
    now = at.strftime("%y%m%d%H%M")
    dlvrd = "001" if stat == "DELIVRD" else "000"
    text = (
        f"id:{submit.message_id} sub:001 dlvrd:{dlvrd} submit date:{now} done date:{now} "
        f"stat:{stat} err:000 text:{submit.text[:20]}"
    )
    sm = submit.pdu
    tlvs: dict[int, bytes] = {}
    if with_tlvs:
        tlvs[Tag.RECEIPTED_MESSAGE_ID] = submit.message_id.encode() + b"\0"
        tlvs[Tag.MESSAGE_STATE] = bytes((_MESSAGE_STATE.get(stat, 7),))
    return DeliverSm(
        sequence_number=sequence_number,
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


def mo_pdus(sender: str, to: str, text: str, *, ref: int, concat: bool, sequence: Iterator[int]) -> list[DeliverSm]:
    """An MO message as deliver_sm, numbered from ``sequence``.

    A text longer than one SMS is always sent in parts with a UDH; ``concat`` forces a UDH even for one.
    """
    segments = split(text)
    gsm7 = segments.encoding is Encoding.GSM7
    total = len(segments.parts)
    parts: list[DeliverSm] = []
    for seq, part in enumerate(segments.parts, start=1):
        data = encode_gsm7(part) if gsm7 else encode_ucs2(part)
        udh = build_udh(Concat(ref, total, seq)) if concat or total > 1 else b""
        parts.append(
            DeliverSm(
                sequence_number=next(sequence),
                **_address("source", sender),
                **_address("dest", to),
                esm_class=ESM_UDHI if udh else 0,
                data_coding=DC_DEFAULT if gsm7 else DC_UCS2,
                short_message=udh + data,
            )
        )
    return parts


def _decode(data: bytes, data_coding: int) -> str:
    if data_coding == DC_DEFAULT:
        return decode_gsm7(data)
    return decode_ucs2(data) if data_coding == DC_UCS2 else data.decode("latin-1")


def _address(prefix: str, value: str) -> dict[str, Any]:
    """An E.164 number as TON 1/NPI 1 digits; anything else as an alphanumeric address (TON 5)."""
    addr, ton, npi = to_smpp_address(value) if value.startswith("+") else (value, 5, 0)
    name = "source_addr" if prefix == "source" else "destination_addr"
    return {name: addr, f"{prefix}_addr_ton": ton, f"{prefix}_addr_npi": npi}
