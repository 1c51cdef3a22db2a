"""The counter under every message box (inbox composer, Send SMS, campaigns) agrees with what is sent."""

from __future__ import annotations

import pytest

from parley.core.draft import count_draft


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param("", (0, "GSM-7", 0, False), id="empty"),
        pytest.param("Yes, it is!", (11, "GSM-7", 1, False), id="plain"),
        pytest.param("Price: 5 €", (10, "GSM-7", 1, False), id="euro-is-gsm7-extension"),
        pytest.param("Привет", (6, "UCS-2", 1, False), id="cyrillic"),
        pytest.param("x" * 160, (160, "GSM-7", 1, False), id="gsm7-one-segment-at-160"),
        pytest.param("x" * 161, (161, "GSM-7", 2, False), id="gsm7-two-segments-past-160"),
        pytest.param("é" * 70 + "ж", (71, "UCS-2", 2, False), id="ucs2-past-70"),
        pytest.param("x" * 670, (670, "GSM-7", 5, False), id="at-the-limit"),
        pytest.param("x" * 671, (671, "GSM-7", 5, True), id="too-long-past-670"),
    ],
)
def test_the_counter_says_characters_encoding_segments_and_too_long(
    text: str, says: tuple[int, str, int, bool]
) -> None:
    count = count_draft(text)
    assert (count.characters, count.encoding, count.segments, count.too_long) == says
