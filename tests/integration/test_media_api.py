"""The media routes through the real app: uploading (streamed, sniffed, limited while read), reading with
credentials or a session, and the signed address carriers fetch from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from tests.support.app import ALICE, BOB, CARL, InProcess, console_client, in_process
from tests.support.media_samples import PDF, PNG, TEXT

LIMIT = 50_000  # PARLEY_MAX_MEDIA_BYTES in these tests: no test needs 100 MB


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(
        tmp_path, media_dir=str(tmp_path / "media"), max_media_bytes=LIMIT, public_url="https://sms.example.com"
    ) as running:
        yield running


def form(name: str, data: bytes, content_type: str = "application/octet-stream") -> dict[str, Any]:
    return {"files": {"file": (name, data, content_type)}}


async def upload(app: InProcess, name: str, data: bytes, who: tuple[str, str] = BOB) -> httpx.Response:
    async with app.client(who) as client:
        return await client.post("/api/v2/media", **form(name, data))


async def test_an_upload_is_stored_and_read_back_by_its_uploader(app: InProcess) -> None:
    answer = await upload(app, "red dot.png", PNG)
    assert answer.status_code == 201, answer.text
    stored = answer.json()
    assert stored == {"id": stored["id"], "content_type": "image/png", "size": len(PNG), "filename": "red dot.png"}
    async with app.client(BOB) as bob:
        read = await bob.get(f"/api/v2/media/{stored['id']}")
    assert read.status_code == 200
    assert read.content == PNG
    assert read.headers["content-type"] == "image/png"
    assert read.headers["content-length"] == str(len(PNG))
    assert read.headers["x-content-type-options"] == "nosniff"
    assert read.headers["content-disposition"] == "inline; filename=\"red dot.png\"; filename*=UTF-8''red%20dot.png"
    assert "sandbox" in read.headers["content-security-policy"]


async def test_files_that_are_not_pictures_download_under_their_safe_name(app: InProcess) -> None:
    stored = (await upload(app, "Rechnung für März.pdf", PDF)).json()
    async with app.client(BOB) as bob:
        read = await bob.get(f"/api/v2/media/{stored['id']}")
    assert read.headers["content-type"] == "application/pdf"
    assert read.headers["content-disposition"] == (
        "attachment; filename=\"Rechnung f_r M_rz.pdf\"; filename*=UTF-8''Rechnung%20f%C3%BCr%20M%C3%A4rz.pdf"
    )


async def test_text_is_served_as_utf8_text(app: InProcess) -> None:
    stored = (await upload(app, "notes.txt", TEXT)).json()
    async with app.client(BOB) as bob:
        read = await bob.get(f"/api/v2/media/{stored['id']}")
    assert (read.headers["content-type"], read.text) == ("text/plain; charset=utf-8", TEXT.decode())


async def test_the_console_session_reads_a_file_and_others_are_told_it_does_not_exist(app: InProcess) -> None:
    stored = (await upload(app, "dot.png", PNG)).json()
    path = f"/api/v2/media/{stored['id']}"
    async with console_client(app, BOB) as (console, _):
        assert (await console.get(path)).content == PNG
    async with app.client(CARL) as carl, app.client(ALICE) as admin, app.client() as anonymous:
        assert (await carl.get(path)).json() == {"error": {"field": None, "reason": "No such file"}}
        assert (await carl.get(path)).status_code == 404  # the same as a file that does not exist:
        assert (await carl.get("/api/v2/media/0123456789abcdef0123")).status_code == 404
        assert (await admin.get(path)).status_code == 200
        assert (await anonymous.get(path)).status_code == 401


REFUSED = [
    pytest.param(
        "x.jpg", PDF, 415, '"x.jpg" is named as a JPEG image but its bytes are a PDF document', id="pdf-as-jpg"
    ),
    pytest.param(
        "x.jpg",
        bytes(range(256)) * 8,
        415,
        '"x.jpg" is not a type of file Parley takes (allowed: JPEG, PNG, GIF or WebP images; MP3, AMR or OGG audio; '
        "MP4 or 3GP video; vCard; PDF; plain text)",
        id="random-as-jpg",
    ),
    pytest.param("empty.png", b"", 400, '"empty.png" is empty (0 bytes)', id="empty"),
    pytest.param(
        "big.txt",
        b"a" * (LIMIT + 1),
        413,
        '"big.txt" is larger than 50,000 bytes, the largest file Parley takes',
        id="one-byte-over",
    ),
]


@pytest.mark.parametrize(("name", "data", "status", "reason"), REFUSED)
async def test_refused_uploads_name_the_file_and_why(
    app: InProcess, name: str, data: bytes, status: int, reason: str
) -> None:
    answer = await upload(app, name, data)
    assert (answer.status_code, answer.json()) == (status, {"error": {"field": "file", "reason": reason}})
    stored = [p for p in (app.parley.media.media_dir).rglob("*") if p.is_file()]
    assert stored == []


async def test_a_file_exactly_at_the_limit_is_taken(app: InProcess) -> None:
    assert (await upload(app, "full.txt", b"a" * LIMIT)).status_code == 201


async def test_an_endless_upload_is_refused_once_past_the_limit_without_reading_further(app: InProcess) -> None:
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="endless.txt"\r\n\r\n'
        while True:
            pulled += 8192
            yield b"a" * 8192

    async with app.client(BOB) as bob:
        answer = await bob.post(
            "/api/v2/media", content=body(), headers={"Content-Type": "multipart/form-data; boundary=b"}
        )
    assert answer.status_code == 413
    assert "endless.txt" in answer.json()["error"]["reason"]
    assert LIMIT < pulled < LIMIT + 3 * 8192


async def test_a_declared_length_far_over_the_limit_is_refused_before_reading(app: InProcess) -> None:
    async with app.client(BOB) as bob:
        answer = await bob.post(
            "/api/v2/media",
            content=b"",
            headers={"Content-Type": "multipart/form-data; boundary=b", "Content-Length": str(100 * 1024 * 1024)},
        )
    assert answer.status_code == 413
    assert "PARLEY_MAX_MEDIA_BYTES" in answer.json()["detail"]


def raw_upload(filename: bytes, data: bytes) -> dict[str, Any]:
    """A multipart body written by hand: the name's bytes as they are (httpx would percent-encode controls)."""
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n\r\n'
    return {"content": head + data + b"\r\n--b--\r\n", "headers": {"Content-Type": "multipart/form-data; boundary=b"}}


NAMES = [
    pytest.param(b"../../etc/passwd.txt", "passwd.txt", id="path"),
    pytest.param(b"C:\\Users\\ann\\notes.txt", "notes.txt", id="windows-path"),
    pytest.param(b"a\x01b\x7fc\x1b.txt", "abc.txt", id="controls"),
    pytest.param(b"evil\x00.txt", "evil.txt", id="nul"),
    pytest.param("gpj\u202e.exe".encode(), "gpj.exe.txt", id="right-to-left-override"),
    pytest.param("Übersicht.txt".encode(), "Übersicht.txt", id="utf-8"),
    pytest.param(b"x" * 1000 + b".txt", "x" * 146 + ".txt", id="thousand-characters"),
    pytest.param(b"rapport.html", "rapport.html.txt", id="html-holding-text"),
]


@pytest.mark.parametrize(("given", "cleaned"), NAMES)
async def test_file_names_are_cleaned(app: InProcess, given: bytes, cleaned: str) -> None:
    async with app.client(BOB) as bob:
        answer = await bob.post("/api/v2/media", **raw_upload(given, TEXT))
    assert answer.status_code == 201, answer.text
    assert answer.json()["filename"] == cleaned


BAD_FORMS = [
    pytest.param({"json": {"file": "x"}}, "send the file as multipart/form-data, in the field 'file'", id="json"),
    pytest.param({"files": {"other": ("a.txt", b"hi")}}, "no file in the field 'file'", id="no-file-field"),
    pytest.param(
        {
            "content": b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhalf',
            "headers": {"Content-Type": "multipart/form-data; boundary=b"},
        },
        "the body ends in the middle of the file",
        id="truncated",
    ),
]


@pytest.mark.parametrize(("request_args", "reason"), BAD_FORMS)
async def test_a_body_that_is_not_an_upload_is_a_400_naming_the_field(
    app: InProcess, request_args: dict[str, Any], reason: str
) -> None:
    async with app.client(BOB) as bob:
        answer = await bob.post("/api/v2/media", **request_args)
    assert (answer.status_code, answer.json()) == (400, {"error": {"field": "file", "reason": reason}})


async def test_a_carrier_fetches_a_file_at_its_signed_address_until_it_expires(app: InProcess) -> None:
    stored = (await upload(app, "dot.png", PNG)).json()
    store = app.parley.media
    await store.load_key()
    now = datetime.now(UTC)
    url = store.signed_url(stored["id"], now)
    assert url.startswith("https://sms.example.com/media/")
    path = url.removeprefix("https://sms.example.com")
    expired = store.signed_url(stored["id"], now - timedelta(days=8)).removeprefix("https://sms.example.com")
    async with app.client() as carrier:  # no credentials, no session
        fetched = await carrier.get(path)
        head = await carrier.head(path)
        assert (fetched.status_code, fetched.content, fetched.headers["content-type"]) == (200, PNG, "image/png")
        assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", str(len(PNG)))
        assert fetched.headers["cache-control"] == "no-store"
        assert (await carrier.get(expired)).status_code == 410
        assert (await carrier.get(path[:-2] + ("AA" if not path.endswith("AA") else "BB"))).status_code == 404
        assert (await carrier.get(f"/media/{stored['id']}")).status_code == 404
        assert (await carrier.get("/media/")).status_code == 404


async def test_no_password_or_signed_token_reaches_the_logs(app: InProcess) -> None:
    with structlog.testing.capture_logs() as logs:
        stored = (await upload(app, "dot.png", PNG)).json()
        await app.parley.media.load_key()
        token = app.parley.media.signed_url(stored["id"], datetime.now(UTC)).rsplit("/", 1)[1]
        async with app.client() as carrier:
            assert (await carrier.get(f"/media/{token}")).status_code == 200
    text = repr(logs)
    assert "media.stored" in text
    assert BOB[1] not in text and token.split(".")[-1] not in text
