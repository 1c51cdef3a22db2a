"""The Telnyx channel's readers of the outside world, fed arbitrary and structured-but-odd values (hypothesis).

`parse_event` either returns what the event says, storable (no NUL or lone surrogate, within the columns' lengths),
or raises `TelnyxEventError` naming the field; `verify_signature` answers True or False and never raises; `classify`
turns any error answer into a `DeliveryError` whose reason can be stored and logged.
"""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from parley.channels.base import Inbound, Receipt
from parley.channels.telnyx import (
    MAX_ID_LENGTH,
    MAX_MEDIA,
    MAX_URL_LENGTH,
    TelnyxEventError,
    classify,
    parse_event,
    verify_signature,
)
from parley.core.delivery import DeliveryError
from parley.ingress.inputs import EARLIEST, LATEST
from tests.hostile.test_fuzz_parsers import FUZZ, assert_storable, json_values, odd_dates, odd_text

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
STATES = {"sending", "sent", "delivered", "undelivered", "failed", "unknown"}

numbers = st.one_of(st.sampled_from(["+15557654321", "+15551230001", "(555) 765-4321", "12345"]), odd_text, json_values)
parties = st.one_of(st.fixed_dictionaries({"phone_number": numbers}, optional={"status": odd_text}), json_values)
media = st.one_of(
    st.lists(
        st.one_of(
            st.fixed_dictionaries({"url": st.one_of(st.just("https://m.telnyx.test/a.jpg"), odd_text, json_values)}),
            json_values,
        ),
        max_size=MAX_MEDIA + 2,
    ),
    json_values,
)
errors = st.one_of(st.lists(st.one_of(st.fixed_dictionaries({"code": json_values}), json_values), max_size=3))
payloads = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.uuids().map(str), odd_text, json_values),
        "type": st.one_of(st.sampled_from(["SMS", "MMS", "mms"]), json_values),
        "from": parties,
        "to": st.one_of(st.lists(parties, max_size=3), json_values),
        "text": st.one_of(odd_text, json_values),
        "media": media,
        "errors": st.one_of(errors, json_values),
        "received_at": st.one_of(odd_dates, json_values),
        "completed_at": st.one_of(odd_dates, json_values),
    },
)
events = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "data": st.fixed_dictionaries(
                {
                    "event_type": st.one_of(
                        st.sampled_from(["message.received", "message.sent", "message.finalized", "call.hangup"]),
                        json_values,
                    )
                },
                optional={
                    "payload": st.one_of(payloads, json_values),
                    "occurred_at": st.one_of(odd_dates, json_values),
                },
            )
        },
        optional={"meta": json_values},
    ),
)


def mostly(good: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field usually right, sometimes odd: events that get past the first checks and reach the later ones."""
    return st.one_of(good, good, good, odd)


good_media = st.lists(
    st.fixed_dictionaries({"url": mostly(st.just("https://m.telnyx.test/a.jpg"), odd_text)}), max_size=3
)
near_valid = st.builds(
    lambda event_type, payload, occurred: {"data": {"event_type": event_type, "payload": payload,
                                                    "occurred_at": occurred}},
    st.sampled_from(["message.received", "message.sent", "message.finalized"]),
    st.fixed_dictionaries(
        {
            "id": mostly(st.uuids().map(str), odd_text),
            "type": mostly(st.sampled_from(["SMS", "MMS"]), json_values),
            "from": mostly(st.just({"phone_number": "+15557654321"}), parties),
            "to": mostly(
                st.tuples(st.sampled_from(["+15551230001", "5551230001"]), mostly(st.sampled_from(
                    ["queued", "sent", "delivered", "delivery_failed", "sending_failed", "x"]), odd_text)).map(
                    lambda t: [{"phone_number": t[0], "status": t[1]}]),
                st.lists(parties, max_size=2),
            ),
            "text": mostly(odd_text, json_values),
            "media": mostly(good_media, media),
            "errors": mostly(st.lists(st.fixed_dictionaries({"code": mostly(st.just("40008"), json_values)}),
                                      max_size=2), json_values),
            "received_at": mostly(odd_dates, json_values),
        }
    ),
    mostly(odd_dates, json_values),
)  # fmt: skip
events = st.one_of(events, near_valid, near_valid)


def check_event(event: Receipt | Inbound | None) -> None:
    if isinstance(event, Inbound):
        assert_storable(event.sender, event.to, event.carrier_id or "", *event.media)
        assert event.sender.startswith("+") and event.to.startswith("+")
        assert event.carrier_id and len(event.carrier_id) <= MAX_ID_LENGTH
        assert len(event.media) <= MAX_MEDIA and all(len(url) <= MAX_URL_LENGTH for url in event.media)
        assert event.channel == ("mms" if event.media else event.channel)
        assert event.received_at is None or EARLIEST <= event.received_at < LATEST
    elif isinstance(event, Receipt):
        assert_storable(event.carrier_id, event.stat, event.err)
        assert 0 < len(event.carrier_id) <= MAX_ID_LENGTH
        assert len(event.stat) <= 16 and len(event.err) <= 16
        assert event.state in STATES
        assert event.done_at is None or EARLIEST <= event.done_at < LATEST
    else:
        assert event is None


@FUZZ
@given(events)
def test_any_event_is_storable_or_a_telnyx_event_error(payload: Any) -> None:
    try:
        event = parse_event(payload, default_region="US")
    except TelnyxEventError as exc:
        assert exc.field and exc.reason
        return
    check_event(event)


@FUZZ
@given(st.binary(max_size=300))
def test_any_body_bytes_are_json_or_not_and_never_break_the_parser(body: bytes) -> None:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # what the webhook answers 400 for
        return
    with contextlib.suppress(TelnyxEventError):
        check_event(parse_event(payload, default_region="US"))


@FUZZ
@given(
    st.one_of(st.just(PUBLIC), odd_text),
    st.one_of(st.none(), st.just(str(int(NOW.timestamp()))), odd_text),
    st.binary(max_size=200),
    st.one_of(st.none(), odd_text, st.binary(min_size=64, max_size=64).map(lambda b: base64.b64encode(b).decode())),
)
def test_any_headers_and_key_verify_or_not_without_raising(
    public_key: str, timestamp: str | None, body: bytes, signature: str | None
) -> None:
    assert verify_signature(public_key, timestamp, body, signature, NOW) in (True, False)


@FUZZ
@given(st.binary(max_size=500), st.integers(min_value=-299, max_value=299), st.data())
def test_a_genuine_signature_verifies_and_any_changed_byte_does_not(
    body: bytes, skew: int, data: st.DataObject
) -> None:
    timestamp = str(int(NOW.timestamp()) + skew)
    signature = base64.b64encode(KEY.sign(timestamp.encode() + b"|" + body)).decode()
    assert verify_signature(PUBLIC, timestamp, body, signature, NOW)
    assert not verify_signature(PUBLIC, timestamp, body, signature, NOW + timedelta(seconds=301 + abs(skew)))
    if body:
        i = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
        changed = body[:i] + bytes([body[i] ^ data.draw(st.integers(min_value=1, max_value=255))]) + body[i + 1 :]
        assert not verify_signature(PUBLIC, timestamp, changed, signature, NOW)


@FUZZ
@given(st.integers(min_value=300, max_value=599), st.one_of(json_values, st.fixed_dictionaries({"errors": errors})))
def test_any_error_answer_classifies_with_a_storable_reason(status: int, payload: Any) -> None:
    error = classify(status, payload)
    assert isinstance(error, DeliveryError)
    assert_storable(error.reason)
    assert len(error.reason) <= 400
    code = getattr(error, "code", None)
    assert code is None or (0 < len(code) <= 16 and code.isascii())
