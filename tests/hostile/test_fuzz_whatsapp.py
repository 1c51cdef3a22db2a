"""The WhatsApp channel's readers of the outside world, fed arbitrary and structured-but-odd values (hypothesis).

`parse_webhook` either returns what the notification says, storable (no NUL or lone surrogate, ids within the
columns), or raises `WhatsAppWebhookError` naming the field; `verify_signature` and `verify_handshake` answer and
never raise; `classify` turns any error answer into a `DeliveryError` whose reason can be stored and logged.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from parley.channels.base import Inbound, Receipt
from parley.channels.whatsapp import classify
from parley.channels.whatsapp_webhook import (
    MAX_ID_LENGTH,
    WebhookProblem,
    WhatsAppWebhookError,
    parse_webhook,
    verify_handshake,
    verify_signature,
)
from parley.core.delivery import DeliveryError
from tests.hostile.test_fuzz_parsers import FUZZ, assert_storable, json_values, odd_text

KINDS = ["text", "image", "audio", "voice", "video", "document", "sticker", "location", "contacts", "button",
         "interactive", "reaction", "order", "system"]  # fmt: skip
maybe = st.one_of(odd_text, json_values)
messages = st.fixed_dictionaries(
    {"id": st.one_of(st.just("wamid.A"), maybe), "type": st.one_of(st.sampled_from(KINDS), maybe),
     "timestamp": st.one_of(st.just("1764505381"), st.integers(), maybe)},
    optional={"from": st.one_of(st.just("15557654321"), maybe), "from_user_id": maybe, "group_id": maybe,
              "context": st.one_of(st.fixed_dictionaries({"id": maybe}), maybe),
              **{k: st.one_of(st.dictionaries(st.sampled_from(["body", "id", "caption", "latitude", "longitude",
                  "name", "address", "text", "payload", "type", "button_reply", "list_reply", "message_id", "emoji",
                  "filename"]), maybe), maybe) for k in KINDS}},
)  # fmt: skip
statuses = st.fixed_dictionaries(
    {"id": maybe, "status": st.one_of(st.sampled_from(["sent", "delivered", "read", "failed"]), maybe)},
    optional={"timestamp": maybe, "errors": st.one_of(st.lists(st.dictionaries(st.just("code"), maybe)), maybe)},
)
values = st.fixed_dictionaries(
    {"metadata": st.one_of(st.fixed_dictionaries({"phone_number_id": st.one_of(st.just("1065"), maybe)}), maybe)},
    optional={"messages": st.one_of(st.lists(st.one_of(messages, maybe), max_size=3), maybe),
              "statuses": st.one_of(st.lists(st.one_of(statuses, maybe), max_size=3), maybe),
              "contacts": maybe, "errors": maybe},
)  # fmt: skip
payloads = st.one_of(
    json_values,
    st.fixed_dictionaries({"entry": st.lists(st.fixed_dictionaries(
        {"changes": st.lists(st.fixed_dictionaries({"value": values}), max_size=2)}), max_size=2)}),
)  # fmt: skip


def strings(event: Inbound | Receipt | WebhookProblem) -> list[str]:
    if isinstance(event, Inbound):
        return [event.sender, event.to, event.text, event.carrier_id or "", *event.media, *event.extra.values()]
    if isinstance(event, Receipt):
        return [event.carrier_id, event.stat, event.err]
    return [event.code, event.title]


@FUZZ
@given(payloads)
def test_parse_webhook_returns_storable_items_or_names_the_field(payload: Any) -> None:
    try:
        items = parse_webhook(payload)
    except WhatsAppWebhookError as exc:
        assert exc.field
        return
    for item in items:
        assert 0 < len(item.phone_number_id) <= MAX_ID_LENGTH
        assert_storable(*strings(item.event))
        if not isinstance(item.event, WebhookProblem):
            assert 0 < len(item.event.carrier_id or "") <= MAX_ID_LENGTH


@FUZZ
@given(st.text(), st.binary(), st.one_of(st.none(), odd_text))
def test_verify_signature_never_raises(secret: str, body: bytes, header: str | None) -> None:
    assert verify_signature(secret, body, header) in (True, False)


@FUZZ
@given(odd_text.filter(bool), st.binary())
def test_verify_signature_accepts_what_meta_signs(secret: str, body: bytes) -> None:
    digest = hmac.new(secret.encode("utf-8", "surrogatepass"), body, hashlib.sha256).hexdigest()
    assert verify_signature(secret, body, f"sha256={digest}")


@FUZZ
@given(st.dictionaries(st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge"]), odd_text), odd_text)
def test_verify_handshake_never_raises(params: dict[str, str], token: str) -> None:
    answer = verify_handshake(params, token)
    assert answer is None or answer == params["hub.challenge"]


@FUZZ
@given(st.integers(min_value=100, max_value=599), json_values)
def test_classify_any_answer(status: int, payload: Any) -> None:
    error = classify(status, payload)
    assert isinstance(error, DeliveryError)
    assert_storable(error.reason)
