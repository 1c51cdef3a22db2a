"""core.media fed arbitrary bytes and names (hypothesis): sniffing never raises and never calls a file what it is
not; cleaned names are safe to store and to send, whatever they were; tokens verify only as signed."""

from __future__ import annotations

import asyncio
import itertools
import unicodedata
from collections.abc import AsyncIterator

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from parley.core import media
from parley.ingress.multipart_stream import MultipartFile, UploadError
from tests.support.media_samples import SAMPLES

FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Names as clients send them: any text, path pieces, controls, dots, separators, extensions of every kind.
name_parts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["/", "\\", "..", ".", "\x00", "\u202e", "\ud800", " ", "CON", "nul", ".jpg", ".pdf", ".txt",
                     ".exe", ".tar.gz", "\n", "\t", ":", '"', "*", "e\u0301", "\u0958", "\ufeff"]),
)  # fmt: skip
names = st.lists(name_parts, max_size=12).map("".join) | st.text(min_size=200, max_size=2000)
types = st.none() | st.sampled_from(sorted(media.ALLOWED))


@FUZZ
@given(head=st.binary(max_size=600), complete=st.booleans())
@example(head=b"\xff\xd8\xff", complete=True)
@example(head=b"\x00\x00\x00\x08ftyp", complete=True)
def test_sniffing_any_bytes_names_an_allowed_type_or_none(head: bytes, complete: bool) -> None:
    found = media.sniff(head, complete=complete)
    assert found is None or found in media.ALLOWED
    if found in media.TEXT_TYPES:  # text is text: UTF-8 without controls, as far as it was seen
        check = media.TextCheck()
        assert check.feed(head) and (not complete or check.finish())


@FUZZ
@given(sample=st.sampled_from(sorted(SAMPLES)), tail=st.binary(max_size=300))
def test_what_follows_the_first_bytes_never_changes_a_binary_type(sample: str, tail: bytes) -> None:
    data, expected = SAMPLES[sample]
    if expected in media.TEXT_TYPES:
        return
    assert media.sniff(data + tail, complete=True) == expected


@FUZZ
@given(name=names, content_type=types)
@example(name="a" * 1000, content_type=None)
@example(name="x/../..\\CON.txt", content_type="text/plain")
@example(name="\u0958" * 200, content_type="image/png")
def test_a_cleaned_name_is_safe_short_stable_and_says_what_the_file_is(name: str, content_type: str | None) -> None:
    cleaned = media.safe_filename(name, content_type)
    assert 0 < len(cleaned) <= media.MAX_FILENAME
    assert not any(ch in cleaned for ch in '/\\<>:"|?*')
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Cn", "Zl", "Zp") for ch in cleaned)
    assert cleaned[0] not in ". " and cleaned[-1] not in ". "
    assert cleaned.split(".", 1)[0].upper() not in ("CON", "PRN", "AUX", "NUL")
    assert unicodedata.is_normalized("NFC", cleaned)
    cleaned.encode("utf-8")  # storable and sendable: no lone surrogate
    assert media.safe_filename(cleaned, content_type) == cleaned
    if content_type is not None:
        assert media.extension(cleaned) in media.ALLOWED[content_type].extensions
        assert media.contradiction(cleaned, content_type) is None


@FUZZ
@given(name=names, sniffed=st.sampled_from(sorted(media.ALLOWED)), declared=st.none() | st.text(max_size=40))
def test_a_contradiction_is_none_or_a_sentence_naming_both_types(name: str, sniffed: str, declared: str | None) -> None:
    problem = media.contradiction(name, sniffed, declared)
    assert problem is None or (problem.startswith("is named as ") and media.label(sniffed) in problem)


@FUZZ
@given(token=st.text(max_size=120) | st.binary(max_size=90).map(lambda b: b.decode("latin-1")))
def test_no_made_up_token_verifies(token: str) -> None:
    assert media.read_token(b"k" * 32, token) is None


@FUZZ
@given(media_id=st.from_regex(r"[0-9a-f]{20}", fullmatch=True), expires=st.integers(0, 2**40))
def test_every_signed_token_reads_back_and_is_url_safe(media_id: str, expires: int) -> None:
    token = media.make_token(b"k" * 32, media_id, expires)
    assert media.read_token(b"k" * 32, token) == (media_id, expires)
    assert all(ch.isalnum() or ch in "._-" for ch in token)


async def _body(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def _read_upload(pieces: list[bytes]) -> tuple[str, bytes] | None:
    part = MultipartFile(_body(pieces), b"b", "file")
    try:
        await part.find()
        return part.filename, b"".join([chunk async for chunk in part.chunks()])
    except UploadError:
        return None


@FUZZ
@given(
    body=st.lists(
        st.sampled_from([b"--b\r\n", b"--b--\r\n", b'Content-Disposition: form-data; name="file"; filename="a.txt"\r\n',
                         b'Content-Disposition: form-data; name="other"\r\n', b"Content-Type: text/plain\r\n", b"\r\n",
                         b"data", b"\x00\xff", b"--", b"\r", b"\n"])
        | st.binary(max_size=30),
        max_size=20,
    ).map(b"".join),
    cuts=st.lists(st.integers(0, 400), max_size=6),
)  # fmt: skip
def test_any_body_split_anyhow_is_read_as_an_upload_or_refused_as_one(body: bytes, cuts: list[int]) -> None:
    bounds = sorted({0, len(body), *(c for c in cuts if c < len(body))})
    pieces = [body[a:b] for a, b in itertools.pairwise(bounds)]
    whole = asyncio.run(_read_upload([body]))
    assert asyncio.run(_read_upload(pieces)) == whole  # however the network cuts it, the same answer


def test_a_well_formed_upload_is_read_whole_from_any_split() -> None:
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.txt"\r\n\r\nhello\r\nworld\r\n--b--\r\n'
    for cut in range(1, len(body)):
        assert asyncio.run(_read_upload([body[:cut], body[cut:]])) == ("x.txt", b"hello\r\nworld")
