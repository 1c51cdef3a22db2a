"""The console's files through the real app (issue 11 §5): the composer's upload (``POST /inbox/media``: session and
CSRF header, streamed and limited as the API's, JSON answers), a reply that carries the uploaded ids, and the
timeline showing an MMS's files (thumbnails, players, download links, an inbound file still fetching or given up)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.bootstrap import utcnow
from parley.channels.base import Inbound
from parley.services.media_fetch import MediaFetcher
from tests.support.app import InProcess, console_client, in_process
from tests.support.media_samples import MP3_ID3, MP4, PDF, PNG, TEXT
from tests.support.provisioning import document

BOB = ("102", "bob-secret")
COMPANY, CUSTOMER, ABROAD = "+15551230001", "+15557654321", "+447700900123"
LIMIT = 50_000  # PARLEY_MAX_MEDIA_BYTES here
FORMS = 20_000  # PARLEY_MAX_BODY_BYTES here: below the media limit, as by default (1 MB against 100 MB)
HTMX = {"HX-Request": "true"}
TWILIO = {"name": "twilio", "role": "carrier", "kind": "twilio", "account_sid": "AC" + "1" * 32,
          "auth_token": "integration-token", "api_base": "http://127.0.0.1:9"}  # fmt: skip


def mms_document() -> dict[str, Any]:
    """Bob takes Support's conversations; Support's number sends MMS through a Twilio account (never reached:
    no workers run here)."""
    numbers = [{"number": COMPANY, "sms": True, "mms": True, "linked_service": "Support", "carrier": "twilio"}]
    doc = document(numbers=numbers, transports=[TWILIO])
    doc["users"] = [{**u, "license": "business"} if u["extension"] == "102" else u for u in doc["users"]]
    return doc


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    settings = {"media_dir": str(tmp_path / "media"), "max_media_bytes": LIMIT, "max_body_bytes": FORMS}
    async with in_process(tmp_path, mms_document(), **settings) as a:
        yield a


@pytest.fixture
async def bob(app: InProcess) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with console_client(app, BOB) as signed_in:
        yield signed_in


def upload_form(name: str, data: bytes, content_type: str = "application/octet-stream") -> dict[str, Any]:
    return {"files": {"file": (name, data, content_type)}}


async def upload(bob: tuple[httpx.AsyncClient, str], name: str, data: bytes) -> httpx.Response:
    client, csrf = bob
    return await client.post("/inbox/media", headers={"X-CSRF-Token": csrf}, **upload_form(name, data))


async def open_conversation(bob: tuple[httpx.AsyncClient, str], customer: str = CUSTOMER) -> str:
    client, csrf = bob
    opened = await client.post("/inbox/new", data={"to": customer, "service": "Support", "csrf": csrf})
    assert opened.status_code == 303, opened.text
    return str(opened.headers["location"].rsplit("/", 1)[1])


async def reply(bob: tuple[httpx.AsyncClient, str], cid: str, text: str, media: list[str]) -> httpx.Response:
    client, csrf = bob
    form = {"text": text, "media": media, "csrf": csrf}
    return await client.post(f"/inbox/{cid}/messages", data=form, headers=HTMX)


async def timeline(bob: tuple[httpx.AsyncClient, str], cid: str) -> str:
    page = await bob[0].get(f"/inbox/{cid}/timeline", headers=HTMX)
    assert page.status_code == 200
    return page.text


async def stored_files(app: InProcess) -> int:
    return len(list((Path(app.parley.settings.media_dir)).glob("**/*")))


# --- the upload ---------------------------------------------------------------------------------------------------


async def test_an_upload_answers_json_and_the_session_reads_the_file_back(
    app: InProcess, bob: tuple[httpx.AsyncClient, str]
) -> None:
    answer = await upload(bob, "red dot.png", PNG)
    assert answer.status_code == 201, answer.text
    stored = answer.json()
    assert stored == {"id": stored["id"], "content_type": "image/png", "size": len(PNG), "filename": "red dot.png"}
    read = await bob[0].get(f"/api/v2/media/{stored['id']}")
    assert (read.status_code, read.content) == (200, PNG)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param({}, "security token is missing", id="no-token"),
        pytest.param({"X-CSRF-Token": "forged"}, "security token is missing", id="wrong-token"),
    ],
)
async def test_an_upload_without_the_csrf_header_is_refused_and_nothing_is_stored(
    app: InProcess, bob: tuple[httpx.AsyncClient, str], headers: dict[str, str], reason: str
) -> None:
    client, csrf = bob
    before = await stored_files(app)
    # The form's own csrf field does not count: the body is the file, never parsed as a form.
    files = upload_form("dot.png", PNG)
    answer = await client.post("/inbox/media", headers=headers, data={"csrf": csrf}, **files)
    assert answer.status_code == 403
    assert reason in answer.json()["error"]["reason"]
    assert await stored_files(app) == before


async def test_an_upload_without_a_session_is_sent_to_sign_in(app: InProcess) -> None:
    async with app.client() as anonymous:
        answer = await anonymous.post("/inbox/media", headers={"X-CSRF-Token": "x"}, **upload_form("d.png", PNG))
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")


@pytest.mark.parametrize(
    ("name", "data", "status", "reason"),
    [
        pytest.param("tool.exe", b"MZ\x90\x00\x03" + bytes(600), 415, '"tool.exe" is not a type of file', id="415"),
        pytest.param("fake.jpg", PNG, 415, '"fake.jpg"', id="415-name-lies"),
        pytest.param("huge.pdf", PDF + bytes(LIMIT), 413, '"huge.pdf" is larger than', id="413"),
        pytest.param("empty.png", b"", 400, '"empty.png" is empty', id="400-empty"),
    ],
)
async def test_a_refused_upload_answers_json_naming_the_file(
    app: InProcess, bob: tuple[httpx.AsyncClient, str], name: str, data: bytes, status: int, reason: str
) -> None:
    answer = await upload(bob, name, data)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["field"] == "file"
    assert reason in error["reason"]


async def test_the_upload_takes_files_up_to_the_media_limit_not_the_forms_limit(
    bob: tuple[httpx.AsyncClient, str],
) -> None:
    within = PDF + bytes(FORMS + 10_000)
    answer = await upload(bob, "scan.pdf", within)
    assert answer.status_code == 201, answer.text
    assert answer.json()["size"] == len(within)
    client, csrf = bob
    too_big = await client.post(
        "/inbox/media", headers={"X-CSRF-Token": csrf}, **upload_form("huge.pdf", bytes(LIMIT + 100_000))
    )
    assert too_big.status_code == 413  # refused by its declared length, before anything is read
    assert "PARLEY_MAX_MEDIA_BYTES" in too_big.text


async def test_a_body_that_is_not_multipart_is_a_400_in_json(bob: tuple[httpx.AsyncClient, str]) -> None:
    client, csrf = bob
    answer = await client.post("/inbox/media", headers={"X-CSRF-Token": csrf}, data={"file": "text"})
    assert answer.status_code == 400
    assert "multipart/form-data" in answer.json()["error"]["reason"]


# --- the reply and the timeline ------------------------------------------------------------------------------------


async def test_a_reply_with_files_and_no_text_goes_as_an_mms_shown_in_the_timeline(
    bob: tuple[httpx.AsyncClient, str],
) -> None:
    cid = await open_conversation(bob)
    ids = [(await upload(bob, name, data)).json()["id"] for name, data in
           [("dot.png", PNG), ("voice.mp3", MP3_ID3), ("clip.mp4", MP4), ("invoice.pdf", PDF)]]  # fmt: skip
    posted = await reply(bob, cid, "", ids)
    assert posted.status_code == 200, posted.text
    assert "Sent" in posted.text and "Left out" not in posted.text
    shown = await timeline(bob, cid)
    png, mp3, mp4, pdf = (f"/api/v2/media/{i}" for i in ids)
    assert re.search(
        rf'<a class="media-thumb" href="{png}"[^>]*>\s*<img src="{png}" loading="lazy" alt="dot.png"', shown
    )
    assert f'<audio controls preload="metadata" src="{mp3}"' in shown
    assert f'<video controls preload="metadata" src="{mp4}"' in shown
    assert re.search(rf'<a class="media-file" href="{pdf}" download="invoice.pdf">[^<]*invoice.pdf</a>', shown)
    assert f"{len(PDF)} bytes" in shown
    assert "style=" not in shown  # the console's policy allows no inline style


async def test_files_past_the_mms_limit_are_listed_as_left_out(bob: tuple[httpx.AsyncClient, str]) -> None:
    cid = await open_conversation(bob)
    ids = [(await upload(bob, f"dot{i:02}.png", PNG)).json()["id"] for i in range(11)]
    posted = await reply(bob, cid, "Eleven dots", ids)
    assert posted.status_code == 200, posted.text
    assert "Left out of the MMS" in posted.text
    assert re.search(r"dot10\.png</span> \(\d+ bytes\): an MMS carries at most 10 files", posted.text)
    assert "dot09.png" not in posted.text
    assert posted.text.count("/api/v2/media/") == 0  # the feedback names files; the timeline shows them
    assert (await timeline(bob, cid)).count('loading="lazy"') == 10


@pytest.mark.parametrize(
    ("customer", "text", "media", "expected"),
    [
        pytest.param(ABROAD, "Hi", ["png"], "MMS can be sent only to +1 (US and Canadian) numbers", id="not-nanp"),
        pytest.param(CUSTOMER, "Hi", ["unknown"], "upload it first", id="unknown-file"),
    ],
)
async def test_a_refused_mms_says_why_in_the_composer(
    bob: tuple[httpx.AsyncClient, str], customer: str, text: str, media: list[str], expected: str
) -> None:
    cid = await open_conversation(bob, customer)
    ids = [(await upload(bob, "dot.png", PNG)).json()["id"] if m == "png" else "0" * 20 for m in media]
    posted = await reply(bob, cid, text, ids)
    assert posted.status_code == 422
    assert 'id="e-media"' in posted.text and expected in posted.text
    assert "media-thumb" not in await timeline(bob, cid)  # nothing was sent


async def test_a_text_file_goes_as_sms_text(bob: tuple[httpx.AsyncClient, str]) -> None:
    cid = await open_conversation(bob)
    posted = await reply(bob, cid, "", [(await upload(bob, "notes.txt", TEXT)).json()["id"]])
    assert posted.status_code == 200, posted.text
    assert "Second line." in await timeline(bob, cid)


async def test_an_inbound_file_shows_fetching_then_why_it_was_not_received(
    app: InProcess, bob: tuple[httpx.AsyncClient, str]
) -> None:
    inbound = Inbound(CUSTOMER, COMPANY, "Look", media=("https://provider.example/m/1",), channel="mms")
    assert await app.parley.inbox.receive("twilio", inbound) is not None
    assert await app.parley.router.route_due() == 1
    async with app.client(BOB) as api:
        [conversation] = (await api.get("/api/v2/conversations")).json()
    cid = conversation["id"]
    pending = await timeline(bob, cid)
    assert "Attachment: fetching…" in pending and "Look" in pending

    # A transport that cannot fetch attachments: given up at once, with the reason.
    cannot = MediaFetcher(app.parley.db, app.parley.media, lambda name: object(), utcnow, max_bytes=LIMIT)
    assert await cannot.fetch_due() == 1
    failed = await timeline(bob, cid)
    assert "fetching…" not in failed
    assert 'Attachment not received: the transport "twilio" cannot fetch attachments' in html.unescape(failed)


async def test_the_composer_carries_the_mms_limits(bob: tuple[httpx.AsyncClient, str]) -> None:
    cid = await open_conversation(bob)
    page = (await bob[0].get(f"/inbox/{cid}")).text
    assert 'data-mms-max-bytes="3500000"' in page and 'data-mms-max-files="10"' in page
    assert re.search(r'<input type="file" id="f-files"[^>]* multiple', page)
    assert '<label for="f-files"' in page
    assert "up to 10 files and 3.5 MB" in page
