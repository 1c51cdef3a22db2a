"""Recipient lists from CSV files as real spreadsheets write them (issue 4 §1, seed 003). Pure.

The file is read as a stream, a line at a time: a 1,000,000-row, 50 MB upload is never held whole. The only thing
that grows with the file is the table of numbers already seen (32 to 64 bytes a number, see `core.first_lines`).

What is accepted:
- Encoding: UTF-8 with or without a BOM, or Windows-1252 (what Excel's plain "CSV" writes in Western Europe). The
  first line that is not pure ASCII decides: valid UTF-8 makes the file UTF-8, anything else makes it Windows-1252.
  Deciding there rather than on the first 64 KiB keeps a Windows-1252 file whose first accent comes late readable.
- Delimiter: ``,`` ``;`` (Excel with a European locale) or tab, whichever the header line holds most of, outside
  quotes; ``,`` when it holds none (a one-column file). A first line ``sep=;`` (Excel's own hint) names it instead.
- RFC 4180 quoting (delimiters, quotes and line breaks inside quoted fields), CRLF, LF or CR line ends. Blank lines and
  rows of empty cells (Excel writes ``,,,`` for a formatted but empty row) are skipped.
- The first non-blank row is the header. It must name a number column: ``number``, or one of the aliases in
  `NUMBER_COLUMNS`. Every other named column is a placeholder, keyed by `column_key` (``First Name`` → ``first_name``).
- A row with fewer fields than the header is fine: the missing placeholders are empty strings (spreadsheets drop
  trailing empty cells). A row with more non-empty fields than the header is a `BadRow`: its values would land in
  the wrong columns (an unquoted ``Smith, John`` does that).
- Numbers are read with `parse_e164` in ``default_region`` (spreadsheets drop the ``+``), so spaces, dashes, dots and
  parentheses are fine. A number Excel turned into ``1.55512E+10`` has lost digits for good: that row is refused
  with the fix, not guessed at.
- Numbers are deduplicated within the file: the first row wins, later ones come back as `Duplicate`.
- A row with a control character (a NUL, an escape; tab and line breaks are fine) in any cell is a `BadRow` naming
  the column, wherever it is in the file: its values could never be stored or sent (`core.characters`).
- The header has at most `MAX_COLUMNS` columns (trailing empty cells are not counted) and `MAX_HEADER` characters:
  a recipient list needs a number and a few placeholders, and a header of 150,000 columns is an attack, not a list.

A file that is not CSV text at all (a workbook, a PDF, UTF-16, binary: a NUL in its first line), or has no header,
no number column, or too big a header, raises `CsvError` when `read_csv` is called. A problem that only shows later
(more than ``max_rows`` rows, a quote never closed, a line that is not text) raises `CsvError` during iteration, after
earlier rows were yielded: a caller that must not half-apply a file stages the rows and commits only when iteration
ends.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TypeAlias

from parley.core.characters import clean, find_unsafe, problem
from parley.core.first_lines import FirstLines
from parley.core.numbers import InvalidNumber, parse_e164

TEMPLATE_CSV = "number,first_name,last_name\r\n+15551234567,Ada,Lovelace\r\n"
# Header names (after `column_key`) that hold the number, in order of preference when a file has several.
NUMBER_COLUMNS = ("number", "mobile", "mobile_number", "phone_number", "phone")

_PROBE = 64 * 1024  # bytes looked at to tell text from binary
_CHUNK = 64 * 1024
_MAX_LINE = 1024 * 1024  # a longer physical line means this is not a CSV file
_MAX_RAW = 200  # characters of a bad row kept for the report
_MAX_FOUND = 10  # header names listed in the "no number column" reason
MAX_COLUMNS = 100  # columns of the header (trailing empty cells not counted)
MAX_HEADER = 64 * 1024  # characters of the header row

# Files people upload by mistake, by their first bytes.
_NOT_CSV = (
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx or OpenDocument .ods workbook?); save it as CSV"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (.xls); save it as CSV"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xfe", 'UTF-16 text (Excel\'s "Unicode Text"); save it as "CSV UTF-8"'),
    (b"\xfe\xff", 'UTF-16 text; save it as "CSV UTF-8"'),
)
_QUOTED = re.compile(rb'"[^"]*"')
_SEP_HINT = re.compile(r"sep=([,;\t])")
_NON_WORD = re.compile(r"\W+")
# Excel's scientific notation for long numbers, with a decimal point or (European locales) a decimal comma.
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+")
# Invisible format characters that copy-pasting a number from a web page or a phone brings along.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_DIGIT_RUN = re.compile(r"\d{7,}")


class CsvError(ValueError):
    """The file as a whole cannot be read as a recipient list; ``reason`` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Recipient:
    """A usable row. ``fields`` has every placeholder column of the file, "" where the row has no value."""

    line: int  # physical line of the file where the row starts; the header is usually line 1
    number: str  # E.164
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that cannot be used, with the reason and (up to 200 characters of) the row as written."""

    line: int
    reason: str
    raw: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A row whose number an earlier row already has; the earlier one is kept."""

    line: int
    number: str
    first_line: int

    @property
    def reason(self) -> str:
        return f"the number {self.number} appears again (first on line {self.first_line})"


RowResult: TypeAlias = Recipient | BadRow | Duplicate


def column_key(header: str) -> str:
    """The placeholder name of a header cell: lower case, runs of anything but letters, digits and ``_`` become
    one ``_``, none at either end. ``First Name`` → ``first_name``, ``E-mail`` → ``e_mail``, ``#`` → ``""``."""
    return _NON_WORD.sub("_", header.strip().lower()).strip("_")


def read_csv(stream: IO[bytes], *, default_region: str, max_rows: int | None = None) -> Iterator[RowResult]:
    """The rows of a recipient CSV, one `Recipient`, `BadRow` or `Duplicate` per non-blank data row, in file order.

    ``stream`` is read in chunks as the rows are consumed and is not closed. Numbers without ``+`` are read as
    dialled in ``default_region`` (ISO 3166, the PBX country). ``max_rows`` bounds the data rows (blank ones do not
    count). Raises CsvError at once for a file that is not CSV text or has no usable header, and while iterating
    for a problem found later (see the module docstring).
    """
    head = _read_head(stream)
    _check_is_text(head)
    encoding = None
    if head.startswith(codecs.BOM_UTF8):
        head, encoding = head[len(codecs.BOM_UTF8) :], "utf-8"
    lines = _Lines(_byte_lines(head, stream), encoding)
    reader = csv.reader(lines, delimiter=_delimiter_of(head), skipinitialspace=True)
    columns = _columns(_read_header(reader, lines))
    return _rows(reader, lines, columns, default_region, max_rows)


@dataclass(frozen=True)
class _Columns:
    width: int  # fields in the header
    number: int  # index of the number column
    fields: tuple[tuple[int, str], ...]  # (index, key) of each placeholder column
    names: tuple[str, ...]  # each header cell as written (cleaned), for reasons naming a column


def _read_head(stream: IO[bytes]) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size < _PROBE:
        part = stream.read(_PROBE - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _check_is_text(head: bytes) -> None:
    for magic, what in _NOT_CSV:
        if head.startswith(magic):
            raise CsvError(f"the file is not CSV text: it is {what}")
    # A NUL in the first line means binary (or UTF-16 without its BOM); one further on is a bad cell of its row.
    first_line = head.splitlines()[0] if head else b""
    if b"\x00" in first_line:
        raise CsvError("the file is not CSV text: it holds binary data")


def _byte_lines(head: bytes, stream: IO[bytes]) -> Iterator[bytes]:
    """Physical lines with their line ends, split at CR LF, LF or CR (bytes.splitlines) across chunk borders."""
    pending = b""
    chunk = head
    while chunk:
        lines = (pending + chunk).splitlines(keepends=True)
        # The last piece may be cut mid-line, or be a CR whose LF starts the next chunk: carry it over.
        pending = lines.pop()
        if len(pending) > _MAX_LINE:
            raise CsvError(f"the file has a line longer than {_MAX_LINE:,} bytes: it is not a CSV file")
        yield from lines
        chunk = stream.read(_CHUNK)
    if pending:
        yield pending


class _Lines:
    """The file's physical lines as text, for csv.reader: counted, and kept until the row they make is taken."""

    def __init__(self, raw: Iterator[bytes], encoding: str | None) -> None:
        self.count = 0  # lines handed out so far
        self.at_end = False  # csv.reader asked for a line after the last one
        self._raw = raw
        self._encoding = encoding  # None until the first non-ASCII line decides
        self._row: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        try:
            raw = next(self._raw)
        except StopIteration:
            self.at_end = True
            raise
        self.count += 1
        text = self._decode(raw)
        self._row.append(text)
        return text

    def take_row(self) -> str:
        """The text of the lines read since the last call, without the final line end."""
        text = "".join(self._row).rstrip("\r\n")
        self._row.clear()
        return text

    def _decode(self, raw: bytes) -> str:
        if self._encoding is None:
            if raw.isascii():
                return raw.decode("ascii")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                self._encoding = "cp1252"
            else:
                self._encoding = "utf-8"
                return text
        try:
            return raw.decode(self._encoding)
        except UnicodeDecodeError:
            if self._encoding == "utf-8":
                reason = f'line {self.count} is not valid UTF-8 though earlier lines are; save the file as "CSV UTF-8"'
            else:
                reason = f"line {self.count} is not text (neither UTF-8 nor Windows-1252)"
            raise CsvError(reason) from None


def _delimiter_of(head: bytes) -> str:
    """The delimiter a ``sep=`` line names, else the one the header line uses most outside quotes, else ","."""
    for line in head.splitlines():
        hint = _SEP_HINT.fullmatch(line.decode("latin-1"))
        if hint:
            return hint.group(1)
        bare = _QUOTED.sub(b"", line)
        if bare.strip(b" \t,;"):
            counts = {d: bare.count(d.encode()) for d in ",;\t"}
            best = max(counts, key=lambda d: counts[d])  # ties go to the first: , then ; then tab
            return best if counts[best] else ","
    return ","


def _is_blank(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


def _csv_problem(line: int, exc: csv.Error) -> CsvError:
    if "field larger than field limit" in str(exc):
        limit = csv.field_size_limit()
        return CsvError(f"line {line}: a field is longer than {limit:,} characters (is a quote left open?)")
    return CsvError(f"line {line} cannot be read as CSV: {exc}")


def _read_header(reader: Iterator[list[str]], lines: _Lines) -> list[str]:
    while True:
        start = lines.count + 1
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            raise _csv_problem(start, exc) from None
        raw = lines.take_row()
        if cells is None:
            raise CsvError("the file is empty: it has no header row")
        if len(raw) > MAX_HEADER:
            raise CsvError(f"the header row is longer than {MAX_HEADER:,} characters; is the first line the header?")
        if not _is_blank(cells) and not _SEP_HINT.fullmatch(raw):
            return cells


def _columns(header: list[str]) -> _Columns:
    used = len(header)
    while used and not header[used - 1].strip():
        used -= 1
    if used > MAX_COLUMNS:
        raise CsvError(f"the header has {used:,} columns; a recipient list may have at most {MAX_COLUMNS}")
    keys = [column_key(cell) for cell in header]
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise CsvError(f'the header has the column "{key}" more than once')
        if key:
            seen.add(key)
    number = next((keys.index(alias) for alias in NUMBER_COLUMNS if alias in keys), None)
    if number is None:
        found = [clean(cell.strip()).text for cell in header if cell.strip()]
        shown = ", ".join(found[:_MAX_FOUND]) + (", …" if len(found) > _MAX_FOUND else "")
        if any(_DIGIT_RUN.search(cell) for cell in found):
            raise CsvError(
                f'the first line must be a header naming the columns, with a "number" column; '
                f"it looks like data ({shown})"
            )
        raise CsvError(f'the header has no "number" column (found: {shown})')
    fields = tuple((index, key) for index, key in enumerate(keys) if key and index != number)
    names = tuple(clean(cell.strip()).text[:40] or f"column {i + 1}" for i, cell in enumerate(header))
    return _Columns(width=len(header), number=number, fields=fields, names=names)


def _rows(
    reader: Iterator[list[str]], lines: _Lines, columns: _Columns, default_region: str, max_rows: int | None
) -> Iterator[RowResult]:
    first_lines = FirstLines()
    count = 0
    while True:
        start = lines.count + 1
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            raise _csv_problem(start, exc) from None
        if cells is None:
            return
        raw = lines.take_row()
        if _is_blank(cells):
            continue
        if lines.at_end and raw.count('"') % 2:
            # csv.reader (not strict) ends a field left open at the end of the file; the rows after the quote
            # were swallowed into it.
            raise CsvError(f"line {start}: a quote opened in this row is never closed")
        count += 1
        if max_rows is not None and count > max_rows:
            raise CsvError(f"more than {max_rows:,} rows")
        yield _row(start, cells, raw, columns, default_region, first_lines)


def _row(
    line: int, cells: list[str], raw: str, columns: _Columns, default_region: str, first_lines: FirstLines
) -> RowResult:
    clipped = raw if len(raw) <= _MAX_RAW else raw[:_MAX_RAW] + "…"
    used = len(cells)
    while used and not cells[used - 1].strip():
        used -= 1
    if used > columns.width:
        return BadRow(line, f"{used} fields, the header has {columns.width}", clean(clipped).text)
    if find_unsafe(raw) is not None:
        return BadRow(line, _unsafe_cell(cells, columns), clean(clipped).text)
    given = _INVISIBLE.sub("", cells[columns.number]).strip() if columns.number < len(cells) else ""
    if not given:
        return BadRow(line, "no number", clipped)
    if _SCIENTIFIC.fullmatch(given):
        reason = (
            f'"{given}": the number was turned into scientific notation by a spreadsheet; '
            "format the column as text and export again"
        )
        return BadRow(line, reason, clipped)
    try:
        number = parse_e164(given, default_region)
    except InvalidNumber as exc:
        return BadRow(line, exc.reason, clipped)
    first_line = first_lines.setdefault(int(number[1:]), line)
    if first_line != line:
        return Duplicate(line, number, first_line)
    fields = {key: cells[index].strip() if index < len(cells) else "" for index, key in columns.fields}
    return Recipient(line, number, fields)


def _unsafe_cell(cells: list[str], columns: _Columns) -> str:
    """The reason for a row with a control character: the first cell holding one, named by its column."""
    for index, cell in enumerate(cells):
        name = columns.names[index] if index < len(columns.names) else f"column {index + 1}"
        reason = problem(f'the "{name}" column', cell)
        if reason is not None:
            return reason
    return "the row holds a control character"  # pragma: no cover - only in a cell, the raw line ends are allowed
