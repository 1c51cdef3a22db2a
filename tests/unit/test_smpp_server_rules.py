"""The SMPP server's pure parts: reading a submit_sm, the sender rules, the throughput budget, receipts, and the
``[[smpp_accounts]]`` provisioning entries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.channels.smpp_pdu import (
    DC_LATIN1,
    DC_UCS2,
    ESM_UDHI,
    Concat,
    PduError,
    Status,
    SubmitSm,
    Tag,
    build_udh,
    decode,
    encode,
)
from parley.channels.smpp_submit import SubmitRefused, read_submit
from parley.core.provisioning import ProvisioningError, parse
from parley.core.smpp_server import SourceRefused, TokenBucket, check_source, receipt_for
from parley.core.text import encode_gsm7
from tests.support.provisioning import document

OFFICE = "+15551230001"


def test_a_whole_message_is_read_in_its_coding() -> None:
    sub = read_submit(
        SubmitSm(destination_addr="1555", data_coding=DC_UCS2, short_message="Zoë 👋".encode("utf-16-be"))
    )
    assert (sub.text, sub.concat, sub.receipt) == ("Zoë 👋", None, False)


def test_a_udh_part_says_which_it_is_and_keeps_its_octets() -> None:
    data = build_udh(Concat(9, 3, 2)) + encode_gsm7("two")
    sub = read_submit(SubmitSm(esm_class=ESM_UDHI, short_message=data, registered_delivery=1))
    assert (sub.concat, sub.octets, sub.receipt) == (Concat(9, 3, 2), encode_gsm7("two"), True)


def test_sar_tlvs_say_which_part_it_is() -> None:
    tlvs = {Tag.SAR_MSG_REF_NUM: b"\x01\x02", Tag.SAR_TOTAL_SEGMENTS: b"\x02", Tag.SAR_SEGMENT_SEQNUM: b"\x01"}
    assert read_submit(SubmitSm(short_message=b"a", tlvs=tlvs)).concat == Concat(0x0102, 2, 1)


def test_message_payload_carries_a_whole_long_message() -> None:
    text = "x" * 400
    sub = read_submit(SubmitSm(data_coding=DC_LATIN1, tlvs={Tag.MESSAGE_PAYLOAD: text.encode("latin-1")}))
    assert (sub.text, sub.concat) == (text, None)


@pytest.mark.parametrize(
    ("pdu", "status"),
    [
        pytest.param(SubmitSm(short_message=b""), Status.ESME_RINVMSGLEN, id="empty"),
        pytest.param(SubmitSm(data_coding=0x04, short_message=b"a"), Status.ESME_RSUBMITFAIL, id="binary-coding"),
        pytest.param(SubmitSm(esm_class=ESM_UDHI, short_message=b"\x09\x00"), Status.ESME_RINVMSGLEN, id="udh-long"),
        pytest.param(
            SubmitSm(esm_class=ESM_UDHI, short_message=build_udh(Concat(1, 2, 3)) + b"a"),
            Status.ESME_RSUBMITFAIL,
            id="part-3-of-2",
        ),
        pytest.param(
            SubmitSm(short_message=b"a", tlvs={Tag.SAR_MSG_REF_NUM: b"\x01"}), Status.ESME_RSUBMITFAIL, id="sar-short"
        ),
        pytest.param(
            SubmitSm(short_message=b"a", tlvs={Tag.MESSAGE_PAYLOAD: b"b"}), Status.ESME_RINVMSGLEN, id="both-payloads"
        ),
    ],
)
def test_a_submit_that_cannot_be_taken_names_its_status(pdu: SubmitSm, status: int) -> None:
    with pytest.raises(SubmitRefused) as caught:
        read_submit(pdu)
    assert caught.value.status == status


@given(st.binary(max_size=300))
def test_any_frame_body_decodes_to_a_submission_or_a_named_refusal(body: bytes) -> None:
    """Fuzz: whatever an ESME sends after a submit_sm header ends in a submission, a PduError or SubmitRefused."""
    frame = encode(SubmitSm(sequence_number=1))[:16] + body
    frame = len(frame).to_bytes(4, "big") + frame[4:]
    try:
        pdu = decode(frame)
    except PduError:
        return
    assert isinstance(pdu, SubmitSm)
    try:
        sub = read_submit(pdu)
    except SubmitRefused as exc:
        assert exc.status in set(Status)
        return
    assert isinstance(sub.text, str) and sub.octets


@given(
    esm_class=st.integers(0, 255),
    coding=st.integers(0, 255),
    data=st.binary(max_size=254),
    tlvs=st.dictionaries(st.sampled_from(list(Tag)), st.binary(max_size=8), max_size=4),
)
def test_any_submit_sm_fields_are_read_or_refused(
    esm_class: int, coding: int, data: bytes, tlvs: dict[int, bytes]
) -> None:
    try:
        sub = read_submit(SubmitSm(esm_class=esm_class, data_coding=coding, short_message=data, tlvs=tlvs))
    except SubmitRefused:
        return
    if sub.concat is not None:
        assert 1 <= sub.concat.seq <= sub.concat.total and sub.concat.total > 1


@pytest.mark.parametrize(
    ("addr", "ton", "to", "expected"),
    [
        pytest.param("", 0, "+15557654321", None, id="empty-is-the-users-default"),
        pytest.param("15551230001", 1, "+15557654321", OFFICE, id="office-number"),
        pytest.param("+15551230001", 0, "+15557654321", OFFICE, id="plus-unknown-ton"),
        pytest.param("5551230001", 2, "+15557654321", OFFICE, id="national"),
        pytest.param("Shop", 5, "+447700900123", "Shop", id="alphanumeric-abroad"),
    ],
)
def test_a_source_the_user_may_use_is_taken(addr: str, ton: int, to: str, expected: str | None) -> None:
    assert check_source(addr, ton, 1, destination=to, numbers={OFFICE}, region="US") == expected


@pytest.mark.parametrize(
    ("addr", "ton", "to"),
    [
        pytest.param("15550000000", 1, "+15557654321", id="someone-elses-number"),
        pytest.param("Shop", 5, "+15557654321", id="alphanumeric-to-nanp"),
        pytest.param("A very long sender", 5, "+447700900123", id="too-long"),
        pytest.param("Sh☃p", 5, "+447700900123", id="not-gsm"),
        pytest.param("12x", 1, "+447700900123", id="garbled-number"),
    ],
)
def test_a_source_the_user_may_not_use_is_refused(addr: str, ton: int, to: str) -> None:
    with pytest.raises(SourceRefused):
        check_source(addr, ton, 1, destination=to, numbers={OFFICE}, region="US")


@given(st.text(max_size=30), st.integers(0, 255), st.integers(0, 255))
def test_any_source_addr_is_taken_or_refused(addr: str, ton: int, npi: int) -> None:
    try:
        found = check_source(addr, ton, npi, destination="+447700900123", numbers={OFFICE}, region="US")
    except SourceRefused:
        return
    assert found is None or found == OFFICE or len(found) <= 11


def test_the_budget_allows_its_rate_and_refills_with_time() -> None:
    bucket = TokenBucket(3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.34) and not bucket.take(0.34)
    assert [bucket.take(10.0) for _ in range(4)] == [True, True, True, False]  # never more than a second's worth


@pytest.mark.parametrize(
    ("status", "error", "code", "stat", "state"),
    [
        pytest.param("delivered", None, None, "DELIVRD", 2, id="delivered"),
        pytest.param("undelivered", "absent", "0x00000001", "UNDELIV", 5, id="undelivered"),
        pytest.param("failed", "ESME_RINVDSTADR", "0x0000000B", "REJECTD", 8, id="rejected"),
        pytest.param("failed", "gave up after 9 attempts: timed out", None, "EXPIRED", 3, id="expired"),
    ],
)
def test_a_receipt_says_what_became_of_the_message(
    status: str, error: str | None, code: str | None, stat: str, state: int
) -> None:
    at = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)
    receipt = receipt_for("abc", status=status, error=error, error_code=code, submitted_at=at, done_at=at,
                          text="Hello there, this is long")  # fmt: skip
    assert (receipt.stat, receipt.message_state) == (stat, state)
    assert receipt.text.startswith("id:abc sub:001 dlvrd:")
    assert f"submit date:2611300905 done date:2611300905 stat:{stat} err:" in receipt.text
    assert receipt.text.endswith("text:Hello there, this is")


ACCOUNT = {"system_id": "crm", "password": "s3cret", "user": "101", "throughput": 50}


def test_accounts_are_read() -> None:
    spec = parse(document(smpp_accounts=[ACCOUNT]))
    assert [(a.system_id, a.user, a.throughput) for a in spec.smpp_accounts] == [("crm", "101", 50)]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param({"password": "longer-than-8"}, "smpp_accounts[0].password: must be at most 8", id="password"),
        pytest.param({"system_id": "x" * 16}, "smpp_accounts[0].system_id: must be at most 15", id="system-id"),
        pytest.param({"user": "999"}, 'smpp_accounts[0].user: "999" is not a user', id="user"),
        pytest.param({"throughput": 0}, "smpp_accounts[0].throughput: must be a whole number", id="throughput"),
        pytest.param({"system_id": None}, "smpp_accounts[0].system_id: is required", id="no-system-id"),
    ],
)
def test_a_wrong_account_is_named_with_its_field(entry: dict[str, object], expected: str) -> None:
    account = {k: v for k, v in {**ACCOUNT, **entry}.items() if v is not None}
    with pytest.raises(ProvisioningError) as caught:
        parse(document(smpp_accounts=[account]))
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems


def test_a_system_id_given_twice_is_refused() -> None:
    with pytest.raises(ProvisioningError) as caught:
        parse(document(smpp_accounts=[ACCOUNT, ACCOUNT]))
    assert 'smpp_accounts[1].system_id: "crm" is given twice' in caught.value.problems
