"""The seed's MMS rules: 10 files and 3,500,000 bytes, text files as SMS, +1 only from numbers with MMS."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.mms import Attachment, mms_refusal, pack, text_messages


def files(*sizes: int, kind: str = "image/jpeg") -> list[Attachment]:
    return [Attachment(f"m{i}", f"f{i}.jpg", kind, size) for i, size in enumerate(sizes)]


def test_eleven_files_leave_the_last_one_out() -> None:
    packed = pack(files(*[1000] * 11))
    assert [a.id for a in packed.files] == [f"m{i}" for i in range(10)]
    assert [(x.attachment.id, x.reason) for x in packed.left_out] == [("m10", "an MMS carries at most 10 files")]


def test_files_are_left_out_from_the_end_until_the_rest_fits_the_bytes() -> None:
    packed = pack(files(2_000_000, 1_000_000, 600_000, 300_000))
    assert [a.id for a in packed.files] == ["m0", "m1"]
    assert [x.attachment.id for x in packed.left_out] == ["m2", "m3"]
    assert packed.left_out[0].as_dict() == {
        "id": "m2",
        "filename": "f2.jpg",
        "size": 600_000,
        "reason": "an MMS carries at most 3,500,000 bytes",
    }


def test_exactly_the_limits_fit() -> None:
    packed = pack(files(*[350_000] * 10))
    assert len(packed.files) == 10 and not packed.left_out


def test_a_single_file_over_the_limit_is_left_out_alone() -> None:
    packed = pack(files(3_500_001))
    assert packed.files == () and len(packed.left_out) == 1


def test_plain_text_files_go_as_sms_and_do_not_count() -> None:
    text = Attachment("t", "notes.txt", "text/plain; charset=utf-8", 10)
    packed = pack([text, *files(*[1000] * 10)])
    assert packed.text_files == (text,)
    assert len(packed.files) == 10 and not packed.left_out


@pytest.mark.parametrize(
    ("length", "parts"),
    [pytest.param(10, 1, id="short"), pytest.param(4500, 1, id="exactly-4500"), pytest.param(9001, 3, id="long")],
)
def test_text_files_become_messages_of_at_most_4500_characters(length: int, parts: int) -> None:
    bodies = text_messages("x" * length)
    assert len(bodies) == parts
    assert all(len(b) <= 4500 for b in bodies)
    assert "".join(bodies) == "x" * length


def test_text_files_are_cut_at_a_word_end() -> None:
    bodies = text_messages(("word " * 1000).strip())
    assert all(not b.endswith(" ") and not b.startswith(" ") for b in bodies)
    assert " ".join(bodies) == ("word " * 1000).strip()


@given(st.text(max_size=20_000))
def test_text_files_lose_nothing_but_whitespace_at_the_cuts(text: str) -> None:
    bodies = text_messages(text, limit=100)
    assert all(0 < len(b) <= 100 for b in bodies)
    assert "".join("".join(b.split()) for b in bodies) == "".join(text.split())


@pytest.mark.parametrize(
    ("sender", "to", "reason"),
    [
        pytest.param("+15551230001", "+15551234567", None, id="us-to-us-with-mms"),
        pytest.param("+15551230001", "+447700900123", "only to +1", id="to-uk"),
        pytest.param("ACME", "+15551234567", "only from a +1 company number", id="alphanumeric-sender"),
        pytest.param("+15551230002", "+15551234567", "does not have MMS", id="number-without-mms"),
    ],
)
def test_who_may_send_an_mms(sender: str, to: str, reason: str | None) -> None:
    refusal = mms_refusal(sender, to, mms_numbers=frozenset({"+15551230001"}))
    assert refusal is None if reason is None else reason in (refusal or "")


@pytest.mark.parametrize(
    ("carriers", "transports", "reason"),
    [
        pytest.param({}, frozenset({"twilio"}), None, id="any-mms-transport"),
        pytest.param({"+15551230001": "twilio"}, frozenset({"twilio"}), None, id="the-numbers-carrier-has-mms"),
        pytest.param(
            {"+15551230001": "smpp"}, frozenset({"twilio"}), 'carrier "smpp" does not carry', id="carrier-smpp"
        ),
        pytest.param({}, frozenset(), "no transport that carries MMS", id="no-mms-transport"),
    ],
)
def test_an_mms_needs_a_transport_that_carries_it(
    carriers: dict[str, str], transports: frozenset[str], reason: str | None
) -> None:
    refusal = mms_refusal(
        "+15551230001", "+15551234567", mms_numbers=frozenset({"+15551230001"}), carriers=carriers,
        mms_transports=transports,
    )  # fmt: skip
    assert refusal is None if reason is None else reason in (refusal or "")
