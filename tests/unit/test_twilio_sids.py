"""Message SIDs (core/twilio_ids.py) as the Twilio-compatible API uses them, and Messaging Service SIDs
(core/messaging_service_sids.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.messaging_service_sids import is_messaging_service_sid, messaging_service_sid
from parley.core.twilio_ids import message_id, message_sid

ACCOUNT = "AC" + "1" * 32


def test_a_message_sid_is_sm_and_the_id_zero_padded_to_32_hex_digits() -> None:
    assert message_sid("0192a3b4c5d6e7f80911") == "SM0000000000000192a3b4c5d6e7f80911"
    assert len(message_sid("0192a3b4c5d6e7f80911")) == 34


@given(st.text(alphabet="0123456789abcdef", min_size=20, max_size=20))
def test_a_message_sid_gives_its_id_back(mid: str) -> None:
    assert message_id(message_sid(mid)) == mid


@pytest.mark.parametrize(
    "sid",
    [
        pytest.param("", id="empty"),
        pytest.param("SM", id="prefix-only"),
        pytest.param("MM0000000000000192a3b4c5d6e7f80911", id="media-sid"),
        pytest.param("SM0000000000000192A3B4C5D6E7F80911", id="upper-case"),
        pytest.param("SM1000000000000192a3b4c5d6e7f80911", id="padding-not-zero"),
        pytest.param("SM000000000000192a3b4c5d6e7f80911", id="too-short"),
        pytest.param("SM0000000000000192a3b4c5d6e7f809111", id="too-long"),
        pytest.param("SM0000000000000192a3b4c5d6e7f8091g", id="not-hex"),
    ],
)
def test_anything_else_is_not_a_message_sid(sid: str) -> None:
    assert message_id(sid) is None


@given(st.text(max_size=40))
def test_any_text_is_read_without_error(text: str) -> None:
    mid = message_id(text)
    assert mid is None or message_sid(mid) == text


@pytest.mark.parametrize("bad", ["", "XYZ", "0" * 33, "ABCDEF"])
def test_an_id_that_is_not_hex_has_no_sid(bad: str) -> None:
    with pytest.raises(ValueError, match="message id"):
        message_sid(bad)


def test_a_messaging_service_sid_is_stable_and_differs_per_service_and_installation() -> None:
    sid = messaging_service_sid(ACCOUNT, 7)
    assert is_messaging_service_sid(sid)
    assert sid == messaging_service_sid(ACCOUNT, 7)
    assert sid != messaging_service_sid(ACCOUNT, 8)
    assert sid != messaging_service_sid("AC" + "2" * 32, 7)


@pytest.mark.parametrize("bad", ["", "MG", "MG" + "0" * 31, "MG" + "G" * 32, "SK" + "0" * 32])
def test_other_text_is_not_a_messaging_service_sid(bad: str) -> None:
    assert not is_messaging_service_sid(bad)
