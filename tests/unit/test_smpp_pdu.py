"""The SMPP 3.4 codec: byte layouts from the spec, round trips, malformed frames, UDH and receipts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from parley.channels.smpp_pdu import (
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
    status_name,
)
from parley.channels.smpp_receipts import _receipt_time, is_receipt, parse_receipt, parse_receipt_text

# §4.1.5 bind_transceiver, laid out by hand from the spec's field table.
BIND_TRANSCEIVER_BYTES = (
    b"\x00\x00\x00\x2f"  # command_length 47
    b"\x00\x00\x00\x09"  # command_id bind_transceiver
    b"\x00\x00\x00\x00"  # command_status
    b"\x00\x00\x00\x01"  # sequence_number
    b"SMPP3TEST\x00"  # system_id
    b"secret08\x00"  # password
    b"SUBMIT1\x00"  # system_type
    b"\x34"  # interface_version 3.4
    b"\x01\x01"  # addr_ton, addr_npi
    b"\x00"  # address_range
)

# §4.4.1 submit_sm: "Hello" from +1 555 0100 to +44 7700 900123, GSM 7 bit unpacked, receipt requested.
SUBMIT_SM_BYTES = (
    b"\x00\x00\x00\x3a"  # command_length 58
    b"\x00\x00\x00\x04"  # command_id submit_sm
    b"\x00\x00\x00\x00"  # command_status
    b"\x00\x00\x00\x02"  # sequence_number
    b"\x00"  # service_type ""
    b"\x01\x01"  # source_addr_ton, source_addr_npi
    b"15550100\x00"  # source_addr
    b"\x01\x01"  # dest_addr_ton, dest_addr_npi
    b"447700900123\x00"  # destination_addr
    b"\x00\x00\x00"  # esm_class, protocol_id, priority_flag
    b"\x00"  # schedule_delivery_time ""
    b"\x00"  # validity_period ""
    b"\x01\x00\x00\x00"  # registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
    b"\x05Hello"  # sm_length, short_message
)

SUBMIT = SubmitSm(
    sequence_number=2,
    source_addr_ton=1,
    source_addr_npi=1,
    source_addr="15550100",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="447700900123",
    registered_delivery=1,
    short_message=b"Hello",
)


def test_bind_transceiver_encodes_to_the_spec_layout() -> None:
    pdu = BindTransceiver(
        sequence_number=1,
        system_id="SMPP3TEST",
        password="secret08",
        system_type="SUBMIT1",
        addr_ton=1,
        addr_npi=1,
    )
    assert encode(pdu) == BIND_TRANSCEIVER_BYTES
    assert decode(BIND_TRANSCEIVER_BYTES) == pdu


def test_submit_sm_encodes_to_the_spec_layout() -> None:
    assert encode(SUBMIT) == SUBMIT_SM_BYTES
    assert decode(SUBMIT_SM_BYTES) == SUBMIT


def test_bind_password_never_shows_in_the_repr() -> None:
    assert "secret08" not in repr(BindTransceiver(system_id="x", password="secret08"))


ROUND_TRIPS = [
    pytest.param(BindTransceiver(sequence_number=7, system_id="a", password="b"), id="bind_transceiver"),
    pytest.param(BindTransmitter(sequence_number=7, system_id="a", system_type="t"), id="bind_transmitter"),
    pytest.param(BindReceiver(sequence_number=7, address_range="^1555"), id="bind_receiver"),
    pytest.param(
        BindTransceiverResp(sequence_number=7, system_id="smsc", tlvs={0x0210: b"\x34"}),
        id="bind_transceiver_resp",
    ),
    pytest.param(BindTransmitterResp(sequence_number=7, system_id="smsc"), id="bind_transmitter_resp"),
    pytest.param(BindReceiverResp(sequence_number=7, system_id="smsc"), id="bind_receiver_resp"),
    pytest.param(SUBMIT, id="submit_sm"),
    pytest.param(
        SubmitSm(
            sequence_number=0x7FFFFFFF,
            esm_class=0x40,
            data_coding=8,
            short_message=build_udh(Concat(9, 2, 1)) + "é".encode("utf-16-be"),
            tlvs={Tag.SAR_MSG_REF_NUM: b"\x00\x09"},
        ),
        id="submit_sm_with_udh_and_tlv",
    ),
    pytest.param(SubmitSmResp(sequence_number=3, message_id="0a1b2c"), id="submit_sm_resp"),
    pytest.param(
        DeliverSm(
            sequence_number=4,
            esm_class=0x04,
            short_message=b"id:1 stat:DELIVRD",
            tlvs={Tag.RECEIPTED_MESSAGE_ID: b"1\x00", Tag.MESSAGE_STATE: b"\x02"},
        ),
        id="deliver_sm",
    ),
    pytest.param(DeliverSmResp(sequence_number=4, command_status=Status.ESME_RX_T_APPN), id="deliver_sm_resp"),
    pytest.param(EnquireLink(sequence_number=5), id="enquire_link"),
    pytest.param(EnquireLinkResp(sequence_number=5), id="enquire_link_resp"),
    pytest.param(Unbind(sequence_number=6), id="unbind"),
    pytest.param(UnbindResp(sequence_number=6), id="unbind_resp"),
    pytest.param(GenericNack(sequence_number=6, command_status=Status.ESME_RINVCMDID), id="generic_nack"),
]


@pytest.mark.parametrize("pdu", ROUND_TRIPS)
def test_every_pdu_survives_a_round_trip(pdu: Pdu) -> None:
    assert decode(encode(pdu)) == pdu


def test_an_error_response_without_a_body_decodes() -> None:
    # §4.4.2: the body of submit_sm_resp is not returned when command_status is non-zero.
    frame = b"\x00\x00\x00\x10\x80\x00\x00\x04\x00\x00\x00\x58\x00\x00\x00\x03"
    assert decode(frame) == SubmitSmResp(sequence_number=3, command_status=Status.ESME_RTHROTTLED)


def test_header_only_pdus_are_sixteen_octets() -> None:
    assert encode(EnquireLink(sequence_number=1)) == bytes.fromhex("00000010 00000015 00000000 00000001")


MALFORMED = [
    pytest.param(b"\x00\x00\x00\x10\x00\x00", Status.ESME_RINVCMDLEN, None, id="shorter-than-a-header"),
    pytest.param(SUBMIT_SM_BYTES[:-1], Status.ESME_RINVCMDLEN, 4, id="length-disagrees-with-frame"),
    pytest.param(
        bytes.fromhex("00000010 00000099 00000000 0000000c"),
        Status.ESME_RINVCMDID,
        0x99,
        id="unknown-command-id",
    ),
    pytest.param(
        bytes.fromhex("00000014 00000009 00000000 00000001") + b"SMPP",
        Status.ESME_RINVMSGLEN,
        9,
        id="unterminated-c-string",
    ),
    pytest.param(
        b"\x00\x00\x00\x3a" + SUBMIT_SM_BYTES[4:-6] + b"\x09Hello",
        Status.ESME_RINVMSGLEN,
        4,
        id="sm-length-beyond-the-body",
    ),
    pytest.param(
        b"\x00\x00\x00\x3d" + SUBMIT_SM_BYTES[4:] + b"\x04\x24\x00",
        Status.ESME_RINVMSGLEN,
        4,
        id="truncated-tlv",
    ),
]


@pytest.mark.parametrize(("frame", "status", "command_id"), MALFORMED)
def test_a_malformed_frame_raises_pdu_error_with_the_status_to_nack(
    frame: bytes, status: int, command_id: int | None
) -> None:
    with pytest.raises(PduError) as caught:
        decode(frame)
    assert caught.value.status == status
    assert caught.value.command_id == command_id


def test_an_unknown_command_keeps_its_sequence_number_for_the_generic_nack() -> None:
    with pytest.raises(PduError) as caught:
        decode(bytes.fromhex("00000010 00000099 00000000 0000000c"))
    assert caught.value.sequence_number == 12


def test_a_field_too_long_for_its_c_string_cannot_be_encoded_and_the_error_hides_its_value() -> None:
    with pytest.raises(ValueError, match="password") as caught:
        encode(BindTransceiver(password="much-too-long"))
    assert "much-too-long" not in str(caught.value)


async def _read(data: bytes) -> bytes:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return await read_frame(reader)


async def test_read_frame_returns_one_whole_frame() -> None:
    assert await _read(SUBMIT_SM_BYTES + b"\x00\x00") == SUBMIT_SM_BYTES


@pytest.mark.parametrize("length", [0, 5, 15, 64 * 1024 + 1, 0xFFFFFFFF], ids=lambda n: f"length-{n}")
async def test_read_frame_refuses_a_command_length_out_of_bounds(length: int) -> None:
    with pytest.raises(PduError):
        await _read(length.to_bytes(4, "big") + bytes(20))


async def test_read_frame_at_end_of_stream_raises_incomplete_read() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        await _read(SUBMIT_SM_BYTES[:20])


def test_status_names_come_from_the_spec_and_unknown_codes_show_in_hex() -> None:
    assert status_name(0x58) == "ESME_RTHROTTLED"
    assert status_name(0x0B) == "ESME_RINVDSTADR"
    assert status_name(0x401) == "0x00000401"


# --- user data header ---------------------------------------------------------------------------


def test_udh_with_an_8_bit_reference_is_six_octets() -> None:
    assert build_udh(Concat(ref=0xAB, total=3, seq=2)) == bytes.fromhex("050003ab0302")


def test_udh_with_a_16_bit_reference_is_seven_octets() -> None:
    assert build_udh(Concat(ref=0x1234, total=3, seq=2), wide_ref=True) == bytes.fromhex("06080412340302")


@pytest.mark.parametrize(
    ("data", "concat", "rest"),
    [
        pytest.param(bytes.fromhex("050003ab0302") + b"hi", Concat(0xAB, 3, 2), b"hi", id="8-bit-ref"),
        pytest.param(bytes.fromhex("06080412340302") + b"hi", Concat(0x1234, 3, 2), b"hi", id="16-bit-ref"),
        pytest.param(bytes.fromhex("0b0504158115810003070201") + b"x", Concat(7, 2, 1), b"x", id="after-a-port-ie"),
        pytest.param(bytes.fromhex("0401020304") + b"x", None, b"x", id="no-concatenation-ie"),
    ],
)
def test_parse_udh_finds_the_concatenation_element(data: bytes, concat: Concat | None, rest: bytes) -> None:
    assert parse_udh(data) == (concat, rest)


def test_parse_udh_refuses_a_header_longer_than_the_data() -> None:
    with pytest.raises(ValueError):
        parse_udh(bytes.fromhex("0a0003"))


# --- delivery receipts ---------------------------------------------------------------------------

STANDARD = "id:0123456789 sub:001 dlvrd:001 submit date:2411241200 done date:2411241201 stat:DELIVRD err:000 text:Hello"


@pytest.mark.parametrize(
    ("text", "carrier_id", "state", "stat", "err"),
    [
        pytest.param(STANDARD, "0123456789", "delivered", "DELIVRD", "000", id="appendix-b"),
        pytest.param(STANDARD.upper(), "0123456789", "delivered", "DELIVRD", "000", id="upper-case-keys"),
        pytest.param(
            "id:A1 submit_date:2411241200 done_date:2411241201 stat:UNDELIV err:001 Text:x",
            "A1",
            "undelivered",
            "UNDELIV",
            "001",
            id="underscored-dates",
        ),
        pytest.param("id:77 stat:EXPIRED", "77", "failed", "EXPIRED", "", id="missing-fields"),
        pytest.param("id:77 stat:REJECTD err:0B", "77", "failed", "REJECTD", "0B", id="rejected"),
        pytest.param("id:77 stat:DELETED", "77", "failed", "DELETED", "", id="deleted"),
        pytest.param("id:77 stat:ACCEPTD", "77", "accepted", "ACCEPTD", "", id="accepted"),
        pytest.param("id:77 stat:ENROUTE", "77", "accepted", "ENROUTE", "", id="enroute"),
        pytest.param("id:77 stat:UNKNOWN", "77", "unknown", "UNKNOWN", "", id="unknown"),
        pytest.param("id:77 stat:delivrd", "77", "delivered", "DELIVRD", "", id="lower-case-stat"),
        pytest.param("id:77 stat:DELIVERED err:0", "77", "delivered", "DELIVERED", "0", id="stat-spelt-out"),
        pytest.param("id:77 stat:WEIRD", "77", "unknown", "WEIRD", "", id="stat-not-in-the-spec"),
        pytest.param("stat:DELIVRD id:0000abcd", "0000abcd", "delivered", "DELIVRD", "", id="reordered-hex-id"),
        pytest.param(
            "id:5 stat:DELIVRD err:000 text:stat:UNDELIV id:6",
            "5",
            "delivered",
            "DELIVRD",
            "000",
            id="keys-in-text",
        ),
        pytest.param("id: 42  stat: DELIVRD ", "42", "delivered", "DELIVRD", "", id="spaces-after-colons"),
    ],
)
def test_receipt_text_is_read_tolerantly(text: str, carrier_id: str, state: str, stat: str, err: str) -> None:
    receipt = parse_receipt(DeliverSm(esm_class=0x04, short_message=text.encode()))
    assert receipt is not None
    assert (receipt.carrier_id, receipt.state, receipt.stat, receipt.err) == (carrier_id, state, stat, err)


def test_receipt_dates_are_read_as_utc_with_or_without_seconds() -> None:
    assert parse_receipt_text(STANDARD)["done_date"] == "2411241201"
    receipt = parse_receipt(DeliverSm(esm_class=0x04, short_message=STANDARD.encode()))
    assert receipt is not None and receipt.done_at == datetime(2024, 11, 24, 12, 1, tzinfo=UTC)
    with_seconds = parse_receipt(DeliverSm(esm_class=0x04, short_message=b"id:1 done date:241124120159"))
    assert with_seconds is not None and with_seconds.done_at == datetime(2024, 11, 24, 12, 1, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    "value", ["2411241201", "241124120159", "6901010000", "6812312359", "9912312359", "2413011230", "2402301200",
              "241124120160", "241124", "", "24112412O1", "２４１１２４１２０１"],
)  # fmt: skip
def test_receipt_dates_read_without_strptime_agree_with_it(value: str) -> None:
    fmt = "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M"
    try:
        expected: datetime | None = datetime.strptime(value, fmt).replace(tzinfo=UTC)
    except ValueError:
        expected = None
    assert _receipt_time(value) == expected


def test_receipt_text_keeps_the_text_field_to_the_end() -> None:
    assert parse_receipt_text(STANDARD + " and more: words")["text"] == "Hello and more: words"


def test_receipt_tlvs_win_over_the_text() -> None:
    pdu = DeliverSm(
        esm_class=0x04,
        short_message=b"id:1 stat:UNDELIV err:001",
        tlvs={Tag.RECEIPTED_MESSAGE_ID: b"abc\x00", Tag.MESSAGE_STATE: b"\x02"},
    )
    receipt = parse_receipt(pdu)
    assert receipt is not None
    assert (receipt.carrier_id, receipt.state, receipt.stat) == ("abc", "delivered", "DELIVRD")


def test_a_receipt_carried_only_in_tlvs_is_read() -> None:
    pdu = DeliverSm(esm_class=0x04, tlvs={Tag.RECEIPTED_MESSAGE_ID: b"9f\x00", Tag.MESSAGE_STATE: b"\x05"})
    receipt = parse_receipt(pdu)
    assert receipt is not None
    assert (receipt.carrier_id, receipt.state) == ("9f", "undelivered")


def test_a_receipt_without_any_message_id_is_none() -> None:
    assert parse_receipt(DeliverSm(esm_class=0x04, short_message=b"stat:DELIVRD")) is None


@pytest.mark.parametrize(
    ("esm_class", "expected"),
    [(0x00, False), (0x04, True), (0x44, True), (0x20, True), (0x40, False), (0x08, False)],
    ids=lambda v: str(v) if isinstance(v, bool) else f"{v:#04x}",
)
def test_is_receipt_reads_the_esm_class_message_type(esm_class: int, expected: bool) -> None:
    assert is_receipt(DeliverSm(esm_class=esm_class)) is expected
