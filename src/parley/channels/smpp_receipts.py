"""SMPP delivery receipts (Appendix B; §5.3.2.12 receipted_message_id, §5.3.2.35 message_state): what a
deliver_sm that is a receipt says, from its text and its TLVs. Pure; the codec is `smpp_pdu`."""

from __future__ import annotations

import contextlib
import functools
import re
from datetime import UTC, datetime

from parley.channels.base import Receipt, ReceiptState
from parley.channels.smpp_pdu import (
    ESM_INTERMEDIATE,
    ESM_RECEIPT,
    ESM_TYPE_MASK,
    MAX_MESSAGE_ID_LENGTH,
    DeliverSm,
    Tag,
)

_STATS: dict[str, ReceiptState] = {
    "DELIVRD": "delivered", "DELIVERED": "delivered", "UNDELIV": "undelivered", "REJECTD": "failed",
    "REJECTED": "failed", "EXPIRED": "failed", "DELETED": "failed", "ACCEPTD": "accepted",
    "ACCEPTED": "accepted", "ENROUTE": "accepted", "UNKNOWN": "unknown", "UNDELIVERABLE": "undelivered",
}  # fmt: skip
# §5.2.28 message_state values, named as the receipt text would name them
_MESSAGE_STATES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD",
                   7: "UNKNOWN", 8: "REJECTD"}  # fmt: skip
_FIELD = re.compile(r"(?i)(?<![a-z_])(id|sub|dlvrd|submit[ _]?date|done[ _]?date|stat|err|text)\s*:")


# The layout nearly every SMSC sends (Appendix B), read in one match; anything else goes through the tolerant scan.
# A value here holds neither space nor colon, so no field name can hide in one: both read such a text the same.
_STANDARD = re.compile(
    r"id:([^\s:]*) sub:([^\s:]*) dlvrd:([^\s:]*) submit date:([^\s:]*) done date:([^\s:]*) stat:([^\s:]*) "
    r"err:([^\s:]*)(?: text:(.*))?",
    re.DOTALL,
)
_STANDARD_KEYS = ("id", "sub", "dlvrd", "submit_date", "done_date", "stat", "err")


def parse_receipt_text(text: str) -> dict[str, str]:
    """The fields of an Appendix B receipt text, keys lower case (``done_date``); missing ones absent.

    Tolerant of case, of ``submit_date`` spellings, of reordered or missing fields; ``text`` runs to the end.
    """
    standard = _STANDARD.fullmatch(text)
    if standard is None:
        return scan_receipt_text(text)
    fields = dict(zip(_STANDARD_KEYS, standard.groups(), strict=False))
    if (rest := standard.group(8)) is not None:
        fields["text"] = rest.strip()
    return fields


def scan_receipt_text(text: str) -> dict[str, str]:
    """`parse_receipt_text` for any layout: every field name found, each value running to the next one."""
    fields: dict[str, str] = {}
    matches = list(_FIELD.finditer(text))
    for i, m in enumerate(matches):
        key = _field_key(m.group(1))
        if key == "text":
            fields[key] = text[m.end() :].strip()
            break
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        fields.setdefault(key, text[m.end() : end].strip())
    return fields


@functools.lru_cache(maxsize=64)
def _field_key(name: str) -> str:
    return re.sub(r"[ _]?date", "_date", name.lower())


def _receipt_time(value: str) -> datetime | None:
    """YYMMDDhhmm[ss]; the spec does not say which zone, so it is read as UTC."""
    if len(value) in (10, 12) and value.isascii() and value.isdigit():  # the usual form, without strptime's cost
        yy = int(value[0:2])
        with contextlib.suppress(ValueError):  # strptime's %y: 69-99 are 1969-1999, 00-68 are 2000-2068
            return datetime(yy + (1900 if yy >= 69 else 2000), int(value[2:4]), int(value[4:6]), int(value[6:8]),
                            int(value[8:10]), int(value[10:12] or 0), tzinfo=UTC)  # fmt: skip
    with contextlib.suppress(ValueError):
        return datetime.strptime(value, "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M").replace(tzinfo=UTC)
    return None


def is_receipt(pdu: DeliverSm) -> bool:
    """§5.2.12: esm_class message type says SMSC delivery receipt (or intermediate notification)."""
    return pdu.esm_class & ESM_TYPE_MASK in (ESM_RECEIPT, ESM_INTERMEDIATE)


def parse_receipt(pdu: DeliverSm) -> Receipt | None:
    """The receipt a deliver_sm carries; TLVs win over the text. None when no message id can be found.

    Text and receipted_message_id (a C-Octet String, §5.3.2.12) end at a NUL; an id longer than any message_id
    (§5.2.23: 65 octets) matches nothing we sent."""
    fields = parse_receipt_text(pdu.payload.split(b"\0", 1)[0].decode("latin-1"))
    carrier_id = fields.get("id", "")
    if Tag.RECEIPTED_MESSAGE_ID in pdu.tlvs:
        carrier_id = pdu.tlvs[Tag.RECEIPTED_MESSAGE_ID].split(b"\0", 1)[0].decode("latin-1")
    if len(carrier_id) > MAX_MESSAGE_ID_LENGTH:
        carrier_id = ""
    stat = fields.get("stat", "").upper()
    state_tlv = pdu.tlvs.get(Tag.MESSAGE_STATE, b"")
    if len(state_tlv) == 1 and state_tlv[0] in _MESSAGE_STATES:
        stat = _MESSAGE_STATES[state_tlv[0]]
    if not carrier_id:
        return None
    return Receipt(
        carrier_id=carrier_id,
        state=_STATS.get(stat, "unknown"),
        stat=stat or "UNKNOWN",
        err=fields.get("err", ""),
        done_at=_receipt_time(fields.get("done_date", "")),
    )
