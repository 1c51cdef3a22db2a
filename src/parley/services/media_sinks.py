"""Where a file's bytes go while it streams in: a temporary file renamed into place, or `media_chunks` rows.

Both take ``write`` (in order, any sizes), then ``commit`` (the file is whole: its `media` row is written) or
``discard`` (nothing of it stays). See `services/media.py`.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa

from parley.store import media as store
from parley.store.db import Database


def disk_path(root: Path, media_id: str) -> Path:
    """Where a file kept on disk lives: by the id's last two (random) characters, so no directory grows huge."""
    return root / media_id[-2:] / media_id


class DiskSink:
    """A file being written under the media directory: a temporary file, renamed to its id once complete."""

    def __init__(self, root: Path, media_id: str) -> None:
        self._temporary = root / "tmp" / f"{media_id}.part"
        self.path = disk_path(root, media_id)
        self._file: BinaryIO | None = None

    def _open(self) -> BinaryIO:
        self._temporary.parent.mkdir(parents=True, exist_ok=True)
        return self._temporary.open("wb")

    async def write(self, data: bytes) -> None:
        if self._file is None:
            self._file = await asyncio.to_thread(self._open)
        await asyncio.to_thread(self._file.write, data)

    def _move(self) -> None:
        if self._file is None:
            raise RuntimeError("nothing was written")
        self._file.flush()
        os.fsync(self._file.fileno())  # on disk before the row that names it is committed
        self._file.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._temporary.replace(self.path)

    async def commit(self, db: Database, row: dict[str, Any]) -> None:
        await asyncio.to_thread(self._move)
        async with db.write() as conn:
            await store.add(conn, row | {"storage": "disk"})

    async def discard(self, db: Database) -> None:
        if self._file is not None:
            self._file.close()
        self._temporary.unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)


class DatabaseSink:
    """A file being written to `media_chunks`, one short transaction per chunk (store/media.py)."""

    def __init__(self, db: Database, placeholder: dict[str, Any]) -> None:
        self._db = db
        self._placeholder = placeholder
        self._seq = 0

    async def write(self, data: bytes) -> None:
        async with self._db.write() as conn:
            if conn.dialect.name == "postgresql":
                # No WAL flush for each chunk: `commit` below is synchronous, and a flush of the WAL up to its
                # record flushes every chunk written before it (the WAL is one sequence). One fsync per file
                # instead of one per MiB, which the accept path's commits were queueing behind (bench: uploads).
                await conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
            if self._seq == 0:
                await store.add(conn, self._placeholder | {"storage": store.PART})
            await store.add_chunk(conn, self._placeholder["id"], self._seq, data)
        self._seq += 1

    async def commit(self, db: Database, row: dict[str, Any]) -> None:
        async with db.write() as conn:
            await store.complete(conn, row["id"], row | {"storage": "db"})

    async def discard(self, db: Database) -> None:
        if self._seq:
            async with db.write() as conn:
                await store.delete(conn, self._placeholder["id"])
