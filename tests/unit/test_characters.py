"""Characters no stored text may hold (issue 9 §1): refused with the field named, or cleaned with a note."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.characters import REPLACEMENT, UnsafeText, check, clean, find_unsafe, is_clean, problem
from parley.core.licenses import License
from parley.core.mail2sms import MailError, parse_mail
from parley.core.outbound import OutboundError, Sender, check_text, plan

ALLOWED = "\t\n\x0c\r"  # GSM 03.38 carries LF, CR and form feed


def _unsafe(ch: str) -> bool:
    code = ord(ch)
    return (code < 0x20 and ch not in ALLOWED) or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF


# Every code point, surrogates included (what a JSON "\ud800" escape or a bad decoder hands us).
any_text = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=80)


@given(any_text)
def test_the_first_unsafe_character_is_found_exactly_where_it_is(text: str) -> None:
    expected = next((i for i, ch in enumerate(text) if _unsafe(ch)), None)
    found = find_unsafe(text)
    assert (found.position if found else None) == expected
    assert is_clean(text) is (expected is None)


@given(any_text)
def test_cleaned_text_is_always_storable_and_keeps_every_safe_character(text: str) -> None:
    cleaned = clean(text)
    assert is_clean(cleaned.text)
    assert len(cleaned.text) == len(text)
    assert all(c == (REPLACEMENT if _unsafe(t) else t) for c, t in zip(cleaned.text, text, strict=True))
    assert (cleaned.note is None) is is_clean(text)
    cleaned.text.encode("utf-8")  # no lone surrogate left: the database can take it
    assert "\x00" not in cleaned.text


@given(any_text)
def test_check_returns_the_text_or_raises_naming_the_field(text: str) -> None:
    try:
        assert check("message", text) == text
    except UnsafeText as exc:
        assert exc.field == "message"
        assert exc.reason.startswith("message holds ")
        assert is_clean(exc.reason)  # the reason itself can be stored, logged and answered


def test_the_reason_names_the_character_and_its_position() -> None:
    assert problem("Message", "a\x00b") == (
        "Message holds a NUL character (U+0000) at position 2; "
        "control characters (other than tab and line breaks) and lone surrogates are not allowed"
    )
    assert "a lone surrogate (U+D800) at position 1" in str(problem("Name", "\ud800"))
    assert "a control character (U+001B) at position 3" in str(problem("Name", "ab\x1b"))
    assert problem("Message", "two\r\nlines\tand emoji \U0001f600") is None


def test_the_note_of_a_cleaned_text_counts_and_names_what_was_replaced() -> None:
    cleaned = clean("a\x00b\x00\ud800")
    assert cleaned.text == "a\ufffdb\ufffd\ufffd"
    assert cleaned.note == "3 characters of the text could not be stored and were replaced by U+FFFD: U+0000, U+D800"


ALICE = Sender(user_id=1, extension="101", name="Alice", license=License.PREMIUM, office_number="+15551230001")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["a\x00b", "a\ud800b", "\x1b[2J", "\x7f"])
def test_an_outbound_text_with_a_control_character_is_refused_naming_the_message(text: str) -> None:
    with pytest.raises(OutboundError) as caught:
        plan(sender=ALICE, destinations=["+15551234567"], text=text, send_at=None, now=NOW)
    assert caught.value.field == "message"
    assert caught.value.reason.startswith("Message holds ")


def test_a_conversation_reply_is_checked_under_its_own_field_name() -> None:
    with pytest.raises(OutboundError) as caught:
        check_text("hi\x00", field="text")
    assert caught.value.field == "text"
    assert check_text("two\nlines", field="text") == "two\nlines"


MAIL = "SENDSMS: TRUE\nFROMNUMBER: 101\nTONUMBER: +15551234567\nSMSPASSWORD: pw\nMESSAGE: {message}\n"


def test_a_mail2sms_message_with_a_nul_is_refused_naming_message() -> None:
    with pytest.raises(MailError) as caught:
        parse_mail(MAIL.format(message="a\x00b"))
    assert caught.value.reason.startswith("MESSAGE holds a NUL character (U+0000) at position 2")


def test_a_mail2sms_key_with_a_nul_is_refused_before_it_reaches_a_lookup() -> None:
    with pytest.raises(MailError) as caught:
        parse_mail(MAIL.format(message="hello").replace("101", "1\x0001"))
    assert caught.value.problems == (
        "FROMNUMBER holds a NUL character (U+0000) at position 2; "
        "control characters (other than tab and line breaks) and lone surrogates are not allowed",
    )
