"""Twilio's status callbacks and error answers, fed anything (hypothesis): `parse_status` returns a receipt that can be
stored (no NUL, no lone surrogate, within the receipts table's columns) or raises `WebhookError` naming MessageSid;
`classify` always returns a `DeliveryError`, and keeps a code only where it is Twilio's number."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from parley.channels.base import Receipt
from parley.channels.twilio import STATES, classify, parse_status
from parley.channels.webhook_formats import MAX_CARRIER_ID_LENGTH, WebhookError
from parley.core.delivery import DeliveryError, Rejected
from tests.hostile.test_fuzz_parsers import FUZZ, assert_storable, json_values, odd_text

RECEIPT_STATES = {"sending", "sent", "delivered", "undelivered", "failed", "accepted", "unknown"}

status_params = st.fixed_dictionaries(
    {},
    optional={
        "MessageSid": st.one_of(st.just("SM" + "0" * 32), odd_text),
        "SmsSid": odd_text,
        "MessageStatus": st.one_of(
            st.sampled_from([*STATES, "canceled", "receiving", "DELIVERED", " sent "]), odd_text
        ),
        "SmsStatus": odd_text,
        "ErrorCode": st.one_of(st.sampled_from(["30003", "30006", "0", ""]), odd_text),
        "RawDlrDoneDate": st.one_of(
            st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
                lambda d: d.strftime("%y%m%d%H%M")
            ),
            st.text(alphabet="0123456789", min_size=9, max_size=11),
            odd_text,
        ),
        "AccountSid": odd_text,
    },
)


@FUZZ
@given(status_params)
def test_any_status_callback_is_a_storable_receipt_or_a_webhook_error(params: dict[str, str]) -> None:
    try:
        receipt = parse_status(params)
    except WebhookError as exc:
        assert exc.field == "MessageSid" and exc.status == 400
        assert not (params.get("MessageSid") or params.get("SmsSid") or "").strip()
        return
    assert isinstance(receipt, Receipt)
    assert receipt.state in RECEIPT_STATES
    assert 0 < len(receipt.carrier_id) <= MAX_CARRIER_ID_LENGTH
    assert len(receipt.stat) <= 16 and len(receipt.err) <= 16  # the receipts table's columns
    assert_storable(receipt.carrier_id, receipt.stat, receipt.err)
    assert receipt.done_at is None or (receipt.done_at.tzinfo is UTC and receipt.done_at.year >= 2000)


error_payloads = st.one_of(
    json_values,
    odd_text,
    st.fixed_dictionaries(
        {"code": st.one_of(st.integers(), odd_text, json_values), "message": st.one_of(odd_text, json_values)}
    ),
)


@FUZZ
@given(st.integers(min_value=100, max_value=599), error_payloads)
def test_any_error_answer_classifies_to_a_delivery_error(status: int, payload: object) -> None:
    error = classify(status, payload)
    assert isinstance(error, DeliveryError) and error.reason
    if isinstance(error, Rejected) and error.code is not None:
        assert error.code.isascii() and error.code.isdigit() and len(error.code) <= 6
    if status >= 500 or status == 429:
        assert error.retryable
