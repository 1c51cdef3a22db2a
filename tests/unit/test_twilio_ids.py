"""Message SIDs: ``SM`` + the message id zero-padded to 32 hex digits, and back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.twilio_ids import message_id, message_sid


def test_a_message_id_becomes_a_sid_and_back() -> None:
    assert message_sid("0190f3c2a1b2c3d4e5f6") == "SM0000000000000190f3c2a1b2c3d4e5f6"
    assert message_id("SM0000000000000190f3c2a1b2c3d4e5f6") == "0190f3c2a1b2c3d4e5f6"


@pytest.mark.parametrize(
    "sid",
    [
        pytest.param("SM" + "f" * 32, id="not-ours"),
        pytest.param("MM" + "0" * 32, id="prefix"),
        pytest.param("SM" + "0" * 31, id="short"),
        pytest.param("SM" + "0" * 12 + "G" * 20, id="not-hex"),
    ],
)
def test_sids_that_are_not_ours_map_to_nothing(sid: str) -> None:
    assert message_id(sid) is None


@given(st.from_regex(r"[0-9a-f]{20}", fullmatch=True))
def test_round_trip(mid: str) -> None:
    sid = message_sid(mid)
    assert len(sid) == 34 and message_id(sid) == mid


@given(st.text(max_size=40))
def test_any_text_is_a_sid_or_not(text: str) -> None:
    found = message_id(text)
    assert found is None or message_sid(found) == text


def test_a_non_hex_id_is_refused() -> None:
    with pytest.raises(ValueError, match="not a message id"):
        message_sid("xyz")
