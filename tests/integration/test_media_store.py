"""The media store on SQLite and PostgreSQL, with files on disk and in the database: streamed in and out whole,
refused without a trace, signed URLs every process verifies, attachments in order, who may read what."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from parley.core.licenses import License
from parley.core.outbound import OutboundError
from parley.services.directory import User
from parley.services.media import MediaNotFound, MediaRefused, MediaStore
from parley.store import media as media_rows
from parley.store.db import Database
from parley.store.tables import conversations, media, media_chunks, message_media, messages, participants, users
from tests.conftest import Clock
from tests.support.media_samples import PDF, PNG

SMALL_CHUNK = 1000  # several `media_chunks` rows for a 10 kB file


@pytest.fixture(params=["disk", "db"])
def store(request: pytest.FixtureRequest, db: Database, clock: Clock, tmp_path: Path) -> MediaStore:
    return MediaStore(
        db,
        clock,
        media_dir=tmp_path / "media",
        in_database=request.param == "db",
        secret="",
        public_base="https://sms.example.com/",
        chunk_size=SMALL_CHUNK,
    )


async def chunked(data: bytes, size: int = 777) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def endless(first: bytes) -> AsyncIterator[bytes]:
    """A source that never ends by itself: only the store's stopping to read ends it."""
    yield first
    while True:
        yield b"A" * 4096


async def read_all(body: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in body])


async def nothing_kept(db: Database, store: MediaStore) -> bool:
    async with db.read() as conn:
        rows = await conn.scalar(sa.select(sa.func.count()).select_from(media))
        chunks = await conn.scalar(sa.select(sa.func.count()).select_from(media_chunks))
    files = [p for p in store.media_dir.rglob("*") if p.is_file()] if store.media_dir.exists() else []
    return rows == 0 and chunks == 0 and files == []


async def test_a_file_streams_in_and_out_whole_with_its_digest_and_sniffed_type(store: MediaStore) -> None:
    data = PNG + os.urandom(10_000)
    info = await store.save(owner_id=None, filename="../pics/red dot.png", chunks=chunked(data), max_bytes=1_000_000)
    assert (info.content_type, info.size, info.filename) == ("image/png", len(data), "red dot.png")
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    opened, body = await store.open(info.id)
    assert opened == info
    assert await read_all(body) == data
    assert await store.info_many([info.id, "0" * 20]) == {info.id: info}


async def test_where_the_bytes_are_kept_follows_the_storage(store: MediaStore, db: Database) -> None:
    data = PDF + b"x" * 5000
    info = await store.save(owner_id=None, filename="doc.pdf", chunks=chunked(data), max_bytes=1_000_000)
    async with db.read() as conn:
        storage = await conn.scalar(sa.select(media.c.storage).where(media.c.id == info.id))
        chunks = await conn.scalar(sa.select(sa.func.count()).select_from(media_chunks))
    on_disk = [p.name for p in store.media_dir.rglob("*") if p.is_file()] if store.media_dir.exists() else []
    if store.in_database:
        assert (storage, chunks, on_disk) == ("db", 6, [])  # 5,xxx bytes in 1,000-byte chunks
    else:
        assert (storage, chunks, on_disk) == ("disk", 0, [info.id])


REFUSALS = [
    pytest.param("x.jpg", PDF, 415, "is named as a JPEG image but its bytes are a PDF document", id="pdf-named-jpg"),
    pytest.param("x.jpg", bytes(range(256)) * 40, 415, "is not a type of file Parley takes", id="random-named-jpg"),
    pytest.param("notes.txt", b"", 400, "is empty (0 bytes)", id="empty"),
    pytest.param("notes.txt", b"plain " * 1000 + b"\x00\x01binary", 415, "is not plain text", id="text-turns-binary"),
    pytest.param("notes.txt", "é".encode() * 3000 + b"\xc3", 415, "is not plain text", id="text-cut-mid-character"),
]


@pytest.mark.parametrize(("name", "data", "status", "reason"), REFUSALS)
async def test_a_refused_file_is_named_and_leaves_nothing_behind(
    store: MediaStore, db: Database, name: str, data: bytes, status: int, reason: str
) -> None:
    with pytest.raises(MediaRefused) as refused:
        await store.save(owner_id=None, filename=name, chunks=chunked(data), max_bytes=1_000_000)
    assert (refused.value.status, refused.value.field) == (status, "file")
    assert f'"{name}"' in refused.value.reason and reason in refused.value.reason
    assert await nothing_kept(db, store)


async def test_a_file_over_the_limit_is_refused_while_it_is_read(store: MediaStore, db: Database) -> None:
    with pytest.raises(MediaRefused) as refused:
        await store.save(owner_id=None, filename="big.txt", chunks=endless(b"text "), max_bytes=20_000)
    assert refused.value.status == 413
    assert refused.value.reason == '"big.txt" is larger than 20,000 bytes, the largest file Parley takes'
    assert await nothing_kept(db, store)


async def test_a_source_that_fails_midway_leaves_nothing_behind(store: MediaStore, db: Database) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield PNG + bytes(5000)
        yield bytes(5000)
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        await store.save(owner_id=None, filename="dot.png", chunks=failing(), max_bytes=1_000_000)
    assert await nothing_kept(db, store)


async def test_an_unknown_file_is_not_found(store: MediaStore) -> None:
    with pytest.raises(MediaNotFound):
        await store.open("0123456789abcdef0123")


async def test_signed_urls_made_by_one_process_verify_in_another(
    store: MediaStore, db: Database, clock: Clock, tmp_path: Path
) -> None:
    """PARLEY_SECRET empty: the key is random, stored once in the database, and the same for every process."""
    other = MediaStore(db, clock, media_dir=tmp_path, in_database=True, secret="", public_base="http://x")
    await store.load_key()
    await other.load_key()
    url = store.signed_url("0123456789abcdef0123", clock())
    assert url.startswith("https://sms.example.com/media/0123456789abcdef0123.")
    token = url.rsplit("/", 1)[1]
    assert other.verify_token(token, clock()) == "0123456789abcdef0123"
    clock.advance(days=7, seconds=-1)
    assert other.verify_token(token, clock()) == "0123456789abcdef0123"
    clock.advance(seconds=1)
    assert other.verify_token(token, clock()) is None
    assert other.read_token(token, clock()) == ("0123456789abcdef0123", True)


async def test_with_a_secret_every_process_derives_the_same_key_without_the_database(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    one, two, stranger = (
        MediaStore(db, clock, media_dir=tmp_path, in_database=True, secret=s, public_base="http://x")
        for s in ("shared secret", "shared secret", "another secret")
    )
    token = one.signed_url("abc", clock()).rsplit("/", 1)[1]
    assert two.verify_token(token, clock()) == "abc"
    assert stranger.verify_token(token, clock()) is None


async def add_people(db: Database, clock: Clock) -> dict[str, User]:
    now = clock()
    people = {"owner": 1, "sender": 2, "member": 3, "former": 4, "stranger": 5, "admin": 6}
    async with db.write() as conn:
        await conn.execute(
            users.insert(),
            [{"id": i, "extension": str(100 + i), "name": n, "password_hash": "x", "license": "business",
              "role": "admin" if n == "admin" else "user", "updated_at": now} for n, i in people.items()],
        )  # fmt: skip
    return {
        n: User(i, str(100 + i), n, License.BUSINESS, None, "admin" if n == "admin" else "user", 200, "x")
        for n, i in people.items()
    }


async def test_who_may_read_a_file(store: MediaStore, db: Database, clock: Clock) -> None:
    who = await add_people(db, clock)
    early = await store.save(owner_id=who["owner"].id, filename="early.png", chunks=chunked(PNG), max_bytes=10_000)
    late = await store.save(owner_id=who["owner"].id, filename="late.png", chunks=chunked(PNG), max_bytes=10_000)
    lonely = await store.save(owner_id=who["owner"].id, filename="lonely.png", chunks=chunked(PNG), max_bytes=10_000)
    now = clock()
    async with db.write() as conn:
        await conn.execute(
            conversations.insert().values(
                id="c1", thread_key="k", company_number="+15551230001", external_number="+15557654321",
                title="t", unrouted=False, created_at=now, updated_at=now,
            )
        )  # fmt: skip
        await conn.execute(
            participants.insert(),
            [
                {"conversation_id": "c1", "member": "u:3", "user_id": 3, "active": True, "removed_by_agent": False,
                 "joined_at": now, "left_at": None},
                {"conversation_id": "c1", "member": "u:4", "user_id": 4, "active": False, "removed_by_agent": False,
                 "joined_at": now, "left_at": now + timedelta(minutes=30)},
            ],
        )  # fmt: skip
        for mid, at, file in (("m-early", now, early), ("m-late", now + timedelta(hours=1), late)):
            await conn.execute(
                messages.insert().values(
                    id=mid, direction="out", user_id=2, sender="+15551230001", recipient="+15557654321", body="",
                    status="queued", segments=0, encoding="gsm7", source="test", conversation_id="c1",
                    created_at=at, updated_at=at,
                )
            )  # fmt: skip
            await store.attach(conn, mid, [file.id])
    readable = {
        name: [f for f, info in (("early", early), ("late", late), ("lonely", lonely))
               if await store.may_read(user, info.id)]
        for name, user in who.items()
    }  # fmt: skip
    assert readable == {
        "owner": ["early", "late", "lonely"],
        "sender": ["early", "late"],
        "member": ["early", "late"],
        "former": ["early"],  # he left before the later message
        "stranger": [],
        "admin": ["early", "late", "lonely"],
    }
    with pytest.raises(MediaNotFound):
        await store.open_for(who["stranger"], early.id)
    assert not await store.may_read(who["admin"], "0123456789abcdef0123")


async def test_attachments_come_in_order_with_their_state(store: MediaStore, db: Database, clock: Clock) -> None:
    first = await store.save(owner_id=None, filename="one.png", chunks=chunked(PNG), max_bytes=10_000)
    second = await store.save(owner_id=None, filename="two.pdf", chunks=chunked(PDF), max_bytes=10_000)
    now = clock()
    async with db.write() as conn:
        for mid in ("out1", "in1"):
            await conn.execute(
                messages.insert().values(
                    id=mid, direction="out", sender="+15551230001", recipient="+15557654321", body="", status="queued",
                    segments=0, encoding="gsm7", source="test", created_at=now, updated_at=now,
                )
            )  # fmt: skip
        await store.attach(conn, "out1", [second.id, first.id])
        await media_rows.add_links(
            conn,
            [{"message_id": "in1", "position": 0, "media_id": None, "source": "https://carrier/m/1",
              "transport": "twilio", "state": "pending", "attempts": 0, "due_at": now, "lease_until": None,
              "error": None}],
        )  # fmt: skip
    found = await store.attachments(["out1", "in1", "none"])
    assert found == {
        "out1": [
            {"id": second.id, "content_type": "application/pdf", "size": len(PDF), "filename": "two.pdf",
             "url": f"/api/v2/media/{second.id}", "state": "ready", "error": None},
            {"id": first.id, "content_type": "image/png", "size": len(PNG), "filename": "one.png",
             "url": f"/api/v2/media/{first.id}", "state": "ready", "error": None},
        ],
        "in1": [{"id": None, "content_type": None, "size": None, "filename": None, "url": None, "state": "pending",
                 "error": None}],
    }  # fmt: skip
    async with db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(message_media)) == 3


async def test_uploads_abandoned_by_a_dead_process_are_swept(store: MediaStore, db: Database, clock: Clock) -> None:
    now = clock()
    async with db.write() as conn:
        await media_rows.add(
            conn,
            {"id": "dead", "owner_id": None, "content_type": "application/octet-stream", "size": 0,
             "filename": "x", "sha256": "", "storage": "part", "created_at": now - timedelta(days=2)},
        )  # fmt: skip
        await media_rows.add_chunk(conn, "dead", 0, b"half")
    (store.media_dir / "tmp").mkdir(parents=True)
    stale = store.media_dir / "tmp" / "gone.part"
    stale.write_bytes(b"half")
    os.utime(stale, (now.timestamp() - 2 * 86400,) * 2)
    kept = await store.save(owner_id=None, filename="k.png", chunks=chunked(PNG), max_bytes=10_000)
    assert await store.sweep(now) == 2
    assert await store.info_many([kept.id, "dead"]) == {kept.id: kept}
    assert not stale.exists()
    async with db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).where(media_chunks.c.media_id == "dead")) == 0


async def test_a_send_takes_the_files_its_user_may_read_with_the_text_of_text_files(
    store: MediaStore, db: Database, clock: Clock
) -> None:
    who = await add_people(db, clock)
    picture = await store.save(owner_id=1, filename="dot.png", chunks=chunked(PNG), max_bytes=10_000)
    note = await store.save(
        owner_id=1, filename="note.txt", chunks=chunked("\ufeffHi there ✓".encode()), max_bytes=10_000
    )
    long = await store.save(owner_id=1, filename="long.txt", chunks=chunked(b"a" * 100_001), max_bytes=200_000)
    found = await store.for_send(who["owner"], [note.id, picture.id])
    assert [(a.id, a.filename, a.content_type, a.size, text) for a, text in found] == [
        (note.id, "note.txt", "text/plain", note.size, "Hi there ✓"),
        (picture.id, "dot.png", "image/png", len(PNG), None),
    ]
    with pytest.raises(OutboundError) as unknown:
        await store.for_send(who["stranger"], [picture.id])
    assert (unknown.value.field, unknown.value.reason) == (
        "media", f'No file "{picture.id}": upload it first (POST /api/v2/media)'
    )  # fmt: skip
    with pytest.raises(OutboundError) as too_long:
        await store.for_send(who["owner"], [long.id])
    assert too_long.value.reason == '"long.txt" is too long to send as text (100,001 bytes; at most 100,000)'


async def test_the_dispatcher_hands_a_carrier_signed_urls_of_an_mms_s_files(
    store: MediaStore, db: Database, clock: Clock
) -> None:
    picture = await store.save(owner_id=None, filename="dot.png", chunks=chunked(PNG), max_bytes=10_000)
    now = clock()
    async with db.write() as conn:
        await conn.execute(
            messages.insert().values(
                id="mms1", direction="out", sender="+15551230001", recipient="+15557654321", body="", status="queued",
                segments=0, encoding="gsm7", source="test", channel="mms", created_at=now, updated_at=now,
            )
        )  # fmt: skip
        await store.attach(conn, "mms1", [picture.id])
    [ref] = await store.media_refs("mms1")
    assert (ref.content_type, ref.size, ref.filename) == ("image/png", len(PNG), "dot.png")
    assert store.verify_token(ref.url.removeprefix("https://sms.example.com/media/"), now) == picture.id
    assert await store.media_refs("nothing") == ()
