"""Saved recipient lists (issue 4 §1, seed 003): shared by every user, filled from a CSV upload or by hand.

An upload streams the file through `core.recipients.read_csv` ``CHUNK_ROWS`` rows at a time, each chunk in a
write transaction of its own: one transaction for a 1,000,000-row file would hold SQLite's single write lock for the
whole upload and stall every other writer (the accept path first). Parsing runs in a worker thread so that the
event loop keeps serving the API meanwhile. The file is never held whole; what grows with it is `read_csv`'s table
of numbers seen (32 to 64 bytes a number) and this upload's own record of the numbers it inserted (8 bytes each),
which lets a file that turns out unreadable half-way (a quote never closed, too many rows, a line that is not text)
take back what it added: nothing half-applied. A process killed mid-upload leaves the chunks committed so far;
uploading the file again completes it, since numbers already in the list are skipped.
"""

from __future__ import annotations

import asyncio
import itertools
from array import array
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import IO, Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.characters import problem
from parley.core.numbers import InvalidNumber, parse_e164
from parley.core.recipients import BadRow, CsvError, Recipient, RowResult, column_key, read_csv
from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.store import lists as store
from parley.store.db import Database
from parley.store.tables import Record

log = structlog.get_logger()

CHUNK_ROWS = 5_000
MAX_UPLOAD_ROWS = 1_000_000
MAX_PROBLEMS = 1_000  # bad rows listed in an upload report; all of them are counted
MAX_NAME = 200  # lists.name is a String(200)


class ListError(ServiceError):
    """A request about lists that cannot be done."""


@dataclass
class UploadReport:
    """What an upload did. ``problems`` lists the first `MAX_PROBLEMS` bad rows as ``{"line", "reason"}``."""

    added: int = 0
    already_in_list: int = 0
    duplicates_in_file: int = 0
    bad_rows: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return asdict(self)

    def sort(self, rows: list[RowResult]) -> list[Recipient]:
        """Count the bad and duplicate rows of a chunk; the usable ones."""
        recipients: list[Recipient] = []
        for row in rows:
            if isinstance(row, Recipient):
                recipients.append(row)
            elif isinstance(row, BadRow):
                self.bad_rows += 1
                if len(self.problems) < MAX_PROBLEMS:
                    self.problems.append({"line": row.line, "reason": row.reason})
            else:
                self.duplicates_in_file += 1
        return recipients


@dataclass
class _Added:
    """What an upload has committed so far, to take back if the file fails later."""

    numbers: array[int] = field(default_factory=lambda: array("q"))  # E.164 digits, 8 bytes a number
    columns: list[str] = field(default_factory=list)  # placeholder columns the upload introduced


def _take(rows: Iterator[RowResult], count: int) -> list[RowResult]:
    return list(itertools.islice(rows, count))


def _union(columns: list[str], keys: Any) -> list[str]:
    return columns + [key for key in keys if key not in columns]


def _list_out(row: Record) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "columns": list(row.columns),
        "entries": int(row.entries),
        "created_by": row.created_by_extension,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _entry_out(row: Record) -> dict[str, Any]:
    return {"number": row.number, "fields": dict(row.fields), "created_at": row.created_at}


def _name(raw: str) -> str:
    name = raw.strip()
    if not name:
        raise ListError(422, "The list needs a name", "name")
    unsafe = problem("The name", name)
    if unsafe is not None:
        raise ListError(422, unsafe, "name")
    if len(name) > MAX_NAME:
        raise ListError(422, f"The name is longer than {MAX_NAME} characters", "name")
    return name


def _fields(raw: dict[str, str]) -> dict[str, str]:
    """Placeholder values keyed as CSV headers are (`column_key`): ``First Name`` → ``first_name``."""
    fields: dict[str, str] = {}
    for given, value in raw.items():
        key = column_key(given)
        if not key or key == "number":
            raise ListError(422, f'"{given}" cannot be a placeholder name', "fields")
        if key in fields:
            raise ListError(422, f'"{given}" is given twice (as "{key}")', "fields")
        unsafe = problem(f'The value of "{key}"', value)
        if unsafe is not None:
            raise ListError(422, unsafe, "fields")
        fields[key] = value.strip()
    return fields


class Lists:
    """The use cases of saved lists. Lists are shared: any signed-in user manages any list."""

    def __init__(self, db: Database, cache: DirectoryCache, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._cache = cache
        self._clock = clock

    async def list_(self, user: User) -> list[dict[str, Any]]:
        """Every list by name, with its entry count."""
        async with self._db.read() as conn:
            return [_list_out(row) for row in await store.list_(conn)]

    async def page(self, user: User, *, offset: int = 0, limit: int = 50) -> tuple[list[dict[str, Any]], bool]:
        """One page of the lists by name, and whether more follow."""
        async with self._db.read() as conn:
            rows = await store.list_(conn, offset=max(0, offset), limit=limit + 1)
        return [_list_out(row) for row in rows[:limit]], len(rows) > limit

    async def get(self, user: User, list_id: int) -> dict[str, Any]:
        """One list with its entry count; 404 when there is none."""
        async with self._db.read() as conn:
            row = await store.find_summary(conn, list_id)
        if row is None:
            raise ListError(404, f"No list {list_id}")
        return _list_out(row)

    async def create(self, user: User, name: str) -> dict[str, Any]:
        """A new empty list; 409 when the name is taken."""
        name, now = _name(name), self._clock()
        try:
            async with self._db.write() as conn:
                if await store.find_by_name(conn, name) is not None:
                    raise ListError(409, f'A list named "{name}" already exists', "name")
                list_id = await store.create(conn, name, by=user.id, now=now)
        except IntegrityError:  # created by someone else between the check and the insert
            raise ListError(409, f'A list named "{name}" already exists', "name") from None
        return await self.get(user, list_id)

    async def rename(self, user: User, list_id: int, name: str) -> dict[str, Any]:
        """Give a list another name; 404 for no list, 409 when the name is taken by another."""
        name, now = _name(name), self._clock()
        try:
            async with self._db.write() as conn:
                other = await store.find_by_name(conn, name)
                if other is not None and other.id != list_id:
                    raise ListError(409, f'A list named "{name}" already exists', "name")
                if not await store.update(conn, list_id, name=name, updated_at=now):
                    raise ListError(404, f"No list {list_id}")
        except IntegrityError:
            raise ListError(409, f'A list named "{name}" already exists', "name") from None
        return await self.get(user, list_id)

    async def delete(self, user: User, list_id: int) -> None:
        """Remove a list and its entries (campaigns made from it keep their own recipients)."""
        async with self._db.write() as conn:
            if not await store.delete(conn, list_id):
                raise ListError(404, f"No list {list_id}")

    async def entries(self, user: User, list_id: int, *, after: str | None, limit: int) -> dict[str, Any]:
        """A page of entries by number: ``{"entries": [...], "next": cursor or None}``."""
        async with self._db.read() as conn:
            if await store.find(conn, list_id) is None:
                raise ListError(404, f"No list {list_id}")
            rows = await store.list_entries(conn, list_id, after=after, limit=limit + 1)
        page = rows[:limit]
        return {"entries": [_entry_out(r) for r in page], "next": page[-1].number if len(rows) > limit else None}

    async def add_entry(self, user: User, list_id: int, number: str, fields: dict[str, str]) -> dict[str, Any]:
        """Add one number with its placeholder values; 409 when it is in the list already."""
        e164, values, now = await self._number(number), _fields(fields), self._clock()
        async with self._db.write() as conn:
            saved = await self._locked(conn, list_id)
            if not await store.add_entries(conn, list_id, [(e164, values)], now=now):
                raise ListError(409, f"{e164} is already in the list", "number")
            await store.update(conn, list_id, columns=_union(list(saved.columns), values), updated_at=now)
            row = await store.find_entry(conn, list_id, e164)
        return _entry_out(row)

    async def update_entry(self, user: User, list_id: int, number: str, fields: dict[str, str]) -> dict[str, Any]:
        """Set some placeholder values of one entry (the others are kept); 404 when the number is not there."""
        e164, values, now = await self._listed(list_id, number), _fields(fields), self._clock()
        async with self._db.write() as conn:
            saved = await self._locked(conn, list_id)
            entry = await store.find_entry(conn, list_id, e164)
            if entry is None:
                raise ListError(404, f"{e164} is not in list {list_id}")
            await store.update_entry(conn, list_id, e164, {**entry.fields, **values})
            await store.update(conn, list_id, columns=_union(list(saved.columns), values), updated_at=now)
            row = await store.find_entry(conn, list_id, e164)
        return _entry_out(row)

    async def remove_entry(self, user: User, list_id: int, number: str) -> None:
        """Take one number out of the list; 404 when it is not there."""
        e164, now = await self._listed(list_id, number), self._clock()
        async with self._db.write() as conn:
            await self._locked(conn, list_id)
            if not await store.remove_entry(conn, list_id, e164):
                raise ListError(404, f"{e164} is not in list {list_id}")
            await store.update(conn, list_id, updated_at=now)

    async def upload_csv(self, user: User, list_id: int, stream: IO[bytes]) -> UploadReport:
        """Add the rows of a CSV file (read as a stream, not closed) to the list; numbers already in it are skipped.

        Bad rows are counted and reported by line; a file that cannot be read as a whole is refused with 422 and
        leaves the list as it was, including one found unreadable after some chunks were committed."""
        await self.get(user, list_id)  # an unknown list is refused before the file is read
        region = (await self._cache.config()).country
        try:
            rows = await asyncio.to_thread(read_csv, stream, default_region=region, max_rows=MAX_UPLOAD_ROWS)
        except CsvError as exc:
            raise ListError(422, exc.reason, "file") from None
        report, added = UploadReport(), _Added()
        try:
            await self._load(list_id, rows, report, added)
        except CsvError as exc:
            await self._take_back(list_id, added)
            raise ListError(422, exc.reason, "file") from None
        except Exception:
            try:
                await self._take_back(list_id, added)
            except Exception:
                log.exception("list upload not taken back", list_id=list_id, numbers=len(added.numbers))
            raise
        return report

    async def _load(self, list_id: int, rows: Iterator[RowResult], report: UploadReport, added: _Added) -> None:
        """Parse the next chunk in a worker thread while this one is written (two chunks in memory at most)."""
        now = self._clock()
        parsing = asyncio.ensure_future(asyncio.to_thread(_take, rows, CHUNK_ROWS))
        try:
            while chunk := await parsing:
                parsing = asyncio.ensure_future(asyncio.to_thread(_take, rows, CHUNK_ROWS))
                recipients = report.sort(chunk)
                if recipients:
                    await self._add_chunk(list_id, recipients, now, report, added)
        finally:
            # A write failed with a parse under way: let it finish (it reads the caller's stream) and drop it.
            await asyncio.wait([parsing])
            if not parsing.cancelled():
                parsing.exception()

    async def _add_chunk(
        self, list_id: int, recipients: list[Recipient], now: datetime, report: UploadReport, added: _Added
    ) -> None:
        async with self._db.write() as conn:
            saved = await store.find(conn, list_id, lock=True)
            if saved is None:
                raise ListError(404, f"List {list_id} was deleted during the upload")
            inserted = await store.add_entries(conn, list_id, [(r.number, r.fields) for r in recipients], now=now)
            old = list(saved.columns)
            columns = _union(old, recipients[0].fields)  # every row of a file has the same columns
            if inserted or len(columns) > len(old):
                await store.update(conn, list_id, columns=columns, updated_at=now)
        added.numbers.extend(int(number[1:]) for number in inserted)
        added.columns += [c for c in columns[len(old) :] if c not in added.columns]
        report.added += len(inserted)
        report.already_in_list += len(recipients) - len(inserted)

    async def _take_back(self, list_id: int, added: _Added) -> None:
        """Remove what a failed upload committed: its entries, chunk by chunk, then the columns it introduced."""
        for start in range(0, len(added.numbers), CHUNK_ROWS):
            numbers = [f"+{digits}" for digits in added.numbers[start : start + CHUNK_ROWS]]
            async with self._db.write() as conn:
                await store.remove_entries(conn, list_id, numbers)
        if added.columns:
            async with self._db.write() as conn:
                saved = await store.find(conn, list_id, lock=True)
                if saved is not None:
                    columns = [c for c in saved.columns if c not in added.columns]
                    await store.update(conn, list_id, columns=columns)

    async def _locked(self, conn: AsyncConnection, list_id: int) -> Record:
        saved = await store.find(conn, list_id, lock=True)
        if saved is None:
            raise ListError(404, f"No list {list_id}")
        return saved

    async def _number(self, raw: str) -> str:
        try:
            return parse_e164(raw, (await self._cache.config()).country)
        except InvalidNumber as exc:
            raise ListError(422, exc.reason, "number") from None

    async def _listed(self, list_id: int, raw: str) -> str:
        """The number of an entry named in a path: one that cannot be read is in no list (404)."""
        try:
            return parse_e164(raw, (await self._cache.config()).country)
        except InvalidNumber as exc:
            raise ListError(404, f"{raw} is not in list {list_id} ({exc.reason})") from None
