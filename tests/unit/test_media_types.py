"""core.media: types told from bytes, claims checked against them, safe names, signed tokens, the fetch schedule."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from parley.core import media
from tests.support.media_samples import PDF, PNG, SAMPLES, TEXT, VCARD


@pytest.mark.parametrize(("data", "expected"), list(SAMPLES.values()), ids=list(SAMPLES))
def test_every_allowed_type_is_told_from_its_first_bytes(data: bytes, expected: str) -> None:
    assert media.sniff(data, complete=True) == expected
    assert media.sniff(data[: media.SNIFF_BYTES], complete=len(data) <= media.SNIFF_BYTES) == expected


REFUSED = {
    "exe": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00",
    "zip": b"PK\x03\x04\x14\x00\x00\x00\x08\x00",
    "heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
    "quicktime": b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ",
    "m4a": b"\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00M4A mp42isom",
    "aac-adts": b"\xff\xf1\x50\x80\x02\x1f\xfc",
    "nul-in-text": b"hello\x00world",
    "latin-1": "café".encode("latin-1"),
    "utf-16": "hello".encode("utf-16"),
    "escape": b"\x1b[31mred\x1b[0m",
    "random": os.urandom(64) and bytes([0x00, 0x9F, 0x92, 0x96, 0xFE, 0x80, 0x01]) * 9,
    "empty": b"",
}


@pytest.mark.parametrize("data", list(REFUSED.values()), ids=list(REFUSED))
def test_types_off_the_list_and_non_text_are_none(data: bytes) -> None:
    assert media.sniff(data, complete=True) is None


def test_text_whose_head_ends_inside_a_character_is_text_until_the_end_says_otherwise() -> None:
    head = "é".encode() * 10
    assert media.sniff(head[:-1], complete=False) == "text/plain"
    assert media.sniff(head[:-1], complete=True) is None


def test_text_check_follows_a_character_split_across_chunks() -> None:
    check = media.TextCheck()
    data = "naïve 😀 text".encode()
    assert all(check.feed(data[i : i + 1]) for i in range(len(data)))
    assert check.finish()
    broken = media.TextCheck()
    assert broken.feed(b"fine ") and not broken.feed(b"\xc3(")


def test_an_id3_looking_line_of_text_stays_text() -> None:
    assert media.sniff(b"ID3 notes: call back\n", complete=True) == "text/plain"


CLAIMS = [
    ("photo.jpg", "image/jpeg", None, None),
    ("photo.JPEG", "image/jpeg", None, None),
    ("x.jpg", "application/pdf", None, "is named as a JPEG image but its bytes are a PDF document"),
    ("x.png", "image/jpeg", None, "is named as a PNG image but its bytes are a JPEG image"),
    ("clip.mp4", "video/3gpp", None, None),
    ("clip.3gp", "video/mp4", None, None),
    ("voice.amr", "audio/amr-wb", None, None),
    ("notes.txt", "text/vcard", None, None),
    ("card.vcf", "text/plain", None, "is named as a vCard but its bytes are a plain text file"),
    ("song.mp3", "audio/ogg", None, "is named as an MP3 audio file but its bytes are an OGG audio file"),
    ("page.html", "text/plain", None, None),
    ("no-extension", "image/png", "image/png", None),
    ("no-extension", "image/png", "image/jpg", "is named as a JPEG image but its bytes are a PNG image"),
    ("no-extension", "image/png", "application/octet-stream", None),
    ("photo.jpg", "image/jpeg", "application/pdf", None),  # the name's claim is the one checked
]


@pytest.mark.parametrize(("name", "sniffed", "declared", "problem"), CLAIMS, ids=[f"{c[0]}-{c[1]}" for c in CLAIMS])
def test_a_name_claims_a_type_that_the_bytes_must_bear_out(
    name: str, sniffed: str, declared: str | None, problem: str | None
) -> None:
    assert media.contradiction(name, sniffed, declared) == problem


NAMES = [
    ("photo.jpg", None, "photo.jpg"),
    ("../../etc/passwd", None, "passwd"),
    ("C:\\Users\\ann\\Pictures\\me.png", None, "me.png"),
    ("evil\x00.jpg", None, "evil.jpg"),
    ("bad\x1b[31m.txt", None, "bad[31m.txt"),
    ("gpj\u202e.exe", None, "gpj.exe"),
    ("..", None, "file"),
    ("", None, "file"),
    ("/", None, "file"),
    (".hidden", None, "hidden"),
    ("  spaced   out  .pdf", None, "spaced out.pdf"),
    ('what?"<>|*:.txt', None, "what_______.txt"),
    ("CON.txt", None, "_CON.txt"),
    ("lone\ud800surrogate.txt", None, "lonesurrogate.txt"),
    ("page.html", "text/plain", "page.html.txt"),
    ("photo", "image/jpeg", "photo.jpg"),
    ("photo.JPG", "image/jpeg", "photo.JPG"),
    ("attachment-1", "video/3gpp", "attachment-1.3gp"),
    ("e\u0301te\u0301.txt", None, "\u00e9t\u00e9.txt"),
]


@pytest.mark.parametrize(("given", "content_type", "expected"), NAMES, ids=[repr(n[0])[:30] for n in NAMES])
def test_names_are_cleaned_to_something_safe(given: str, content_type: str | None, expected: str) -> None:
    assert media.safe_filename(given, content_type) == expected


def test_a_thousand_character_name_is_cut_keeping_its_extension() -> None:
    cleaned = media.safe_filename("a" * 1000 + ".pdf", "application/pdf")
    assert len(cleaned) == media.MAX_FILENAME
    assert cleaned.endswith("a.pdf")


def test_the_samples_are_what_a_viewer_opens() -> None:
    # The PNG is a real picture (its chunks' CRCs hold); the text files decode.
    assert PNG.startswith(b"\x89PNG") and PNG.endswith(b"IEND\xaeB`\x82")
    assert TEXT.decode() and VCARD.decode().startswith("BEGIN:VCARD")
    assert PDF.startswith(b"%PDF-")


KEY = b"k" * 32


def test_a_token_names_its_file_and_expiry_and_nothing_else_verifies() -> None:
    token = media.make_token(KEY, "0123456789abcdef0123", 1_900_000_000)
    assert media.read_token(KEY, token) == ("0123456789abcdef0123", 1_900_000_000)
    media_id, expires, signature = token.split(".")
    forged = [
        f"0123456789abcdef0124.{expires}.{signature}",  # another file
        f"{media_id}.{int(expires, 16) + 1:x}.{signature}",  # a later expiry
        f"{media_id}.{expires}.{signature[:-1]}A"
        if signature[-1] != "A"
        else f"{media_id}.{expires}.{signature[:-1]}B",
        token + "\n",
        token[:-1],
        "",
        "../../etc/passwd",
    ]
    assert [media.read_token(KEY, t) for t in forged] == [None] * len(forged)
    assert media.read_token(b"x" * 32, token) is None


def test_fetch_retries_follow_the_schedule_then_give_up_after_a_day() -> None:
    policy = media.FetchPolicy()
    assert [policy.next_delay(n) for n in range(1, 7)] == [
        timedelta(seconds=5),
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
        timedelta(minutes=30),
        timedelta(hours=1),
    ]
    waits = []
    attempts = 1
    while (wait := policy.next_delay(attempts)) is not None:
        waits.append(wait)
        attempts += 1
    assert sum(waits, timedelta()) <= timedelta(hours=24) < sum(waits, timedelta()) + timedelta(hours=1)
    assert len(waits) == 28  # 29 tries in all
