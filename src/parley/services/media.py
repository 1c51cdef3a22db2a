"""The media store: files uploaded for MMS and attachments fetched from carriers, kept whole or not at all.

Where the bytes go (docs/architecture.md, "Media"): on disk under ``media_dir`` when the database is SQLite (one
host), in the database's ``media_chunks`` when it is PostgreSQL, so that every `parley serve` and `parley worker`
host reads what any of them stored. Either way a file streams in (never whole in memory): on disk into a temporary
file renamed into place once complete, in the database chunk by chunk. Its type is sniffed from its first bytes
(`core.media`) and a file that is not an allowed type, or not what its name claims, is refused before anything of
it is kept; a refused or interrupted upload leaves nothing behind.

URLs handed to carriers are signed tokens (`core.media.make_token`) under a key every process shares: derived
from ``PARLEY_SECRET`` when it is set, otherwise a random key stored once in the ``settings`` table.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.ext.asyncio import AsyncConnection

from parley.channels.base import MediaRef
from parley.core import media as kinds
from parley.core.mms import Attachment, is_text
from parley.core.outbound import OutboundError
from parley.services.directory import User
from parley.services.errors import ServiceError
from parley.services.media_sinks import DatabaseSink, DiskSink, disk_path
from parley.store import media as store
from parley.store.db import Database
from parley.store.ids import new_id

CHUNK = 1024 * 1024  # bytes per `media_chunks` row, and per write to disk
READ_CHUNK = 256 * 1024  # bytes per read of a file on disk
SIGNING_KEY = "media.signing_key"  # the `settings` row holding the key when PARLEY_SECRET is empty
PART_EXPIRY = timedelta(hours=24)  # an upload left unfinished this long was abandoned by a dead process
MAX_TEXT_FILE_BYTES = 100_000  # a text file sent as SMS (issue 11 §4): about 22 messages of 4,500 characters


@dataclass(frozen=True)
class MediaInfo:
    id: str
    content_type: str
    size: int
    filename: str
    sha256: str
    owner_id: int | None


class MediaRefused(ServiceError):
    """A file that is not stored: 413 too large, 415 not an allowed type (or not what its name says), 400 empty."""

    def __init__(self, status: int, field: str | None, reason: str) -> None:
        super().__init__(status, reason, field)


class MediaNotFound(ServiceError):
    def __init__(self) -> None:
        super().__init__(404, "No such file")


def _info(row: Any) -> MediaInfo:
    return MediaInfo(row.id, row.content_type, int(row.size), row.filename, row.sha256, row.owner_id)


class MediaStore:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        media_dir: Path | str,
        in_database: bool,
        secret: str,
        public_base: str,
        url_lifetime: timedelta = timedelta(days=7),
        chunk_size: int = CHUNK,
    ) -> None:
        self._db = db
        self.clock = clock
        self.media_dir = Path(media_dir)
        self.in_database = in_database
        self._public_base = public_base.rstrip("/")
        self._lifetime = url_lifetime
        self._chunk = chunk_size
        self._key: bytes | None = None
        if secret:
            self._key = hmac.new(secret.encode(), b"parley media urls", hashlib.sha256).digest()

    # --- storing -------------------------------------------------------------------------------------------------

    async def save(
        self,
        *,
        owner_id: int | None,
        filename: str,
        chunks: AsyncIterator[bytes],
        max_bytes: int,
        declared_type: str | None = None,
    ) -> MediaInfo:
        """Store a file streamed in as ``chunks``; raises `MediaRefused` (413 past ``max_bytes``, checked while
        reading; 415 for a type not allowed or bytes that contradict the name; 400 for no bytes at all)."""
        media_id = new_id()
        shown = kinds.safe_filename(filename)
        now = self.clock()
        placeholder = {"id": media_id, "owner_id": owner_id, "content_type": "application/octet-stream", "size": 0,
                       "filename": shown, "sha256": "", "created_at": now}  # fmt: skip
        sink = DatabaseSink(self._db, placeholder) if self.in_database else DiskSink(self.media_dir, media_id)
        try:
            content_type, size, digest = await self._stream(sink, chunks, filename, shown, max_bytes, declared_type)
            info = MediaInfo(
                media_id, content_type, size, kinds.safe_filename(filename, content_type), digest, owner_id
            )
            row = placeholder | {"content_type": content_type, "size": size, "filename": info.filename,
                                 "sha256": digest}  # fmt: skip
            await sink.commit(self._db, row)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.shield(sink.discard(self._db))
            raise
        return info

    async def _stream(
        self,
        sink: DiskSink | DatabaseSink,
        chunks: AsyncIterator[bytes],
        filename: str,
        shown: str,
        max_bytes: int,
        declared_type: str | None,
    ) -> tuple[str, int, str]:
        """Copy ``chunks`` to ``sink``, judging the type once the first bytes are in: (type, size, sha256)."""
        digest, size = hashlib.sha256(), 0
        head, buffer = bytearray(), bytearray()
        content_type: str | None = None
        text: kinds.TextCheck | None = None
        async for data in chunks:
            size += len(data)
            if size > max_bytes:
                limit = kinds.describe_size(max_bytes)
                raise MediaRefused(413, "file", f'"{shown}" is larger than {limit}, the largest file Parley takes')
            digest.update(data)
            if content_type is None:
                head += data
                if len(head) < kinds.SNIFF_BYTES:
                    continue
                content_type = self._judge(bytes(head), False, filename, shown, declared_type)
                text = kinds.TextCheck() if content_type in kinds.TEXT_TYPES else None
                data, head = bytes(head), bytearray()
            if text is not None and not text.feed(data):
                raise MediaRefused(415, "file", f'"{shown}" is not plain text: it holds bytes that are not UTF-8 text')
            buffer += data
            while len(buffer) >= self._chunk:
                await sink.write(bytes(buffer[: self._chunk]))
                del buffer[: self._chunk]
        if content_type is None:
            if size == 0:
                raise MediaRefused(400, "file", f'"{shown}" is empty (0 bytes)')
            content_type = self._judge(bytes(head), True, filename, shown, declared_type)
            text = kinds.TextCheck() if content_type in kinds.TEXT_TYPES else None
            buffer += head
            if text is not None:
                text.feed(bytes(head))
        if text is not None and not text.finish():
            raise MediaRefused(415, "file", f'"{shown}" is not plain text: it ends in the middle of a character')
        if buffer:
            await sink.write(bytes(buffer))
        return content_type, size, digest.hexdigest()

    @staticmethod
    def _judge(head: bytes, complete: bool, filename: str, shown: str, declared_type: str | None) -> str:
        sniffed = kinds.sniff(head, complete=complete)
        if sniffed is None:
            reason = f'"{shown}" is not a type of file Parley takes (allowed: {kinds.ALLOWED_SUMMARY})'
            raise MediaRefused(415, "file", reason)
        problem = kinds.contradiction(filename, sniffed, declared_type)
        if problem is not None:
            raise MediaRefused(415, "file", f'"{shown}" {problem}')
        return sniffed

    async def delete(self, media_id: str) -> None:
        """Remove a stored file (a copy no one will use: see `services/media_fetch.py`)."""
        async with self._db.write() as conn:
            await store.delete(conn, media_id)
        disk_path(self.media_dir, media_id).unlink(missing_ok=True)

    async def sweep(self, now: datetime) -> int:
        """Delete what uploads abandoned by a dead process left (database parts, temporary files): how many."""
        before = now - PART_EXPIRY
        async with self._db.write() as conn:
            gone = len(await store.delete_parts_before(conn, before))
        return gone + await asyncio.to_thread(self._sweep_temporary, before.timestamp())

    def _sweep_temporary(self, before: float) -> int:
        gone = 0
        with contextlib.suppress(FileNotFoundError):
            for path in (self.media_dir / "tmp").iterdir():
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < before:
                        path.unlink()
                        gone += 1
        return gone

    # --- reading ---------------------------------------------------------------------------------------------------

    async def info_many(self, ids: Sequence[str]) -> dict[str, MediaInfo]:
        """The stored files among ``ids`` (unknown ids are left out)."""
        async with self._db.read() as conn:
            return {r.id: _info(r) for r in await store.get_many(conn, ids)}

    async def open(self, media_id: str) -> tuple[MediaInfo, AsyncIterator[bytes]]:
        """A file and its bytes, streamed; raises `MediaNotFound`."""
        async with self._db.read() as conn:
            row = await store.find(conn, media_id)
        if row is None:
            raise MediaNotFound()
        info = _info(row)
        if row.storage == "db":
            return info, self._read_chunks(media_id)
        try:
            handle = await asyncio.to_thread(disk_path(self.media_dir, media_id).open, "rb")
        except FileNotFoundError:
            raise MediaNotFound() from None
        return info, self._read_file(handle)

    async def _read_file(self, handle: BinaryIO) -> AsyncIterator[bytes]:
        try:
            while data := await asyncio.to_thread(handle.read, READ_CHUNK):
                yield data
        finally:
            handle.close()

    async def _read_chunks(self, media_id: str) -> AsyncIterator[bytes]:
        seq = 0
        while True:
            async with self._db.read() as conn:  # one chunk per transaction: a slow reader holds no connection
                data = await store.chunk(conn, media_id, seq)
            if data is None:
                return
            yield data
            seq += 1

    async def may_read(self, user: User, media_id: str) -> bool:
        """Its uploader, the sender of a message that has it, that message's conversation's participants (a former
        one: messages from before he left), and admins."""
        async with self._db.read() as conn:
            if user.is_admin:
                return await store.find(conn, media_id) is not None
            return await store.may_read(conn, media_id, user.id)

    async def open_for(self, user: User, media_id: str) -> tuple[MediaInfo, AsyncIterator[bytes]]:
        """`open`, for a user who may read the file; to anyone else it does not exist (`MediaNotFound`)."""
        if not await self.may_read(user, media_id):
            raise MediaNotFound()
        return await self.open(media_id)

    # --- messages' attachments -------------------------------------------------------------------------------------

    async def attachments(self, message_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Each message's attachments in order, as message objects carry them (`attachments_of`)."""
        async with self._db.read() as conn:
            return await attachments_of(conn, message_ids)

    async def attach(self, conn: AsyncConnection, message_id: str, media_ids: Sequence[str]) -> None:
        """Link uploaded files to an outbound message, in order, inside the caller's transaction."""
        await store.add_links(conn, [store.link_row(message_id, i, media_id=m) for i, m in enumerate(media_ids)])

    async def for_send(self, user: User, ids: Sequence[str]) -> list[tuple[Attachment, str | None]]:
        """The files a user attaches to a send, in order, each with its text when it is a plain-text file (sent as
        SMS). `services.send.AttachmentSource`: raises `OutboundError` on ``media`` for an id that is unknown or
        that the user may not read, and for a text file too long to go as SMS."""
        found = await self.info_many(ids)
        chosen: list[tuple[Attachment, str | None]] = []
        for media_id in ids:
            info = found.get(media_id)
            if info is None or not await self.may_read(user, media_id):
                raise OutboundError("media", f'No file "{media_id[:40]}": upload it first (POST /api/v2/media)')
            text = None
            if is_text(info.content_type):
                if info.size > MAX_TEXT_FILE_BYTES:
                    reason = f'"{info.filename}" is too long to send as text ({info.size:,} bytes; at most '
                    raise OutboundError("media", f"{reason}{MAX_TEXT_FILE_BYTES:,})")
                _, body = await self.open(media_id)
                text = b"".join([chunk async for chunk in body]).decode("utf-8-sig", "replace")
            chosen.append((Attachment(info.id, info.filename, info.content_type, info.size), text))
        return chosen

    async def media_refs(self, message_id: str) -> tuple[MediaRef, ...]:
        """An outbound MMS's files as the carrier fetches them (signed URLs, from now): the dispatcher's ``media``."""
        await self.load_key()
        async with self._db.read() as conn:
            rows = await store.links(conn, [message_id])
        now = self.clock()
        return tuple(
            MediaRef(self.signed_url(r.id, now), r.content_type, int(r.size), r.filename)
            for r in rows
            if r.state == "ready" and r.id is not None
        )

    # --- signed URLs -----------------------------------------------------------------------------------------------

    async def load_key(self) -> None:
        """Make sure the signing key is at hand (read or stored once in the database when PARLEY_SECRET is empty).
        Idempotent and cheap once done; `signed_url` and `verify_token` need it."""
        if self._key is not None:
            return
        async with self._db.write() as conn:
            stored = await store.signing_key(conn, SIGNING_KEY, secrets.token_hex(32))
        self._key = bytes.fromhex(stored)

    def _signing_key(self) -> bytes:
        if self._key is None:
            raise RuntimeError("the media signing key is not loaded: await MediaStore.load_key() first")
        return self._key

    def signed_url(self, media_id: str, now: datetime) -> str:
        """The address a carrier fetches a file at, without a session, until ``media_url_days`` from ``now``."""
        expires = int((now + self._lifetime).timestamp())
        return f"{self._public_base}/media/{kinds.make_token(self._signing_key(), media_id, expires)}"

    def read_token(self, token: str, now: datetime) -> tuple[str, bool] | None:
        """(file id, whether the token has expired) for a token this store signed; None for any other."""
        found = kinds.read_token(self._signing_key(), token)
        if found is None:
            return None
        media_id, expires = found
        return media_id, now.timestamp() >= expires

    def verify_token(self, token: str, now: datetime) -> str | None:
        """The file id of a signed token that has not expired; None otherwise."""
        found = self.read_token(token, now)
        return found[0] if found is not None and not found[1] else None


async def attachments_of(conn: AsyncConnection, message_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Each message's attachments in order, as message objects carry them: ``{id, content_type, size,
    filename, url, state, error}`` (``url`` needs a session or credentials; a pending or failed inbound
    attachment has no file yet: its id, type, size, name and url are None). Messages without any are left out."""
    found: dict[str, list[dict[str, Any]]] = {}
    for r in await store.links(conn, message_ids):
        stored = r.id is not None
        found.setdefault(r.message_id, []).append(
            {
                "id": r.id,
                "content_type": r.content_type,
                "size": r.size,
                "filename": r.filename,
                "url": f"/api/v2/media/{r.id}" if stored else None,
                "state": r.state,
                "error": r.error,
            }
        )
    return found
