"""Recipient CSVs as real spreadsheets write them: encodings, delimiters, quoting, bad rows, duplicates, streaming."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.core.characters import is_clean
from parley.core.first_lines import FirstLines
from parley.core.recipients import (
    NUMBER_COLUMNS,
    TEMPLATE_CSV,
    BadRow,
    CsvError,
    Duplicate,
    Recipient,
    RowResult,
    column_key,
    read_csv,
)
from tests.support.memory import peak_growth

ADA = "+15551234567"
BOB = "+15551234568"


def read(data: bytes, region: str = "US", max_rows: int | None = None) -> list[RowResult]:
    return list(read_csv(io.BytesIO(data), default_region=region, max_rows=max_rows))


class GeneratedStream(io.RawIOBase):
    """A byte stream produced piece by piece from a generator: the file never exists whole."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._pending = b""
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while len(self._pending) < len(buffer):
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._pending += piece
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        self.served += size
        return size


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            b"number,first_name\n+15551234567,Ada\n", [Recipient(2, ADA, {"first_name": "Ada"})], id="plain-comma-lf"
        ),
        pytest.param(
            b"number,first_name\r\n+15551234567,Ada\r\n+15551234568,Bob\r\n",
            [Recipient(2, ADA, {"first_name": "Ada"}), Recipient(3, BOB, {"first_name": "Bob"})],
            id="crlf",
        ),
        pytest.param(
            b"number,first_name\r+15551234567,Ada\r+15551234568,Bob",
            [Recipient(2, ADA, {"first_name": "Ada"}), Recipient(3, BOB, {"first_name": "Bob"})],
            id="old-mac-cr-and-no-final-newline",
        ),
        pytest.param(
            "\ufeffnumber,first_name\r\n+15551234567,Ada\r\n".encode(),
            [Recipient(2, ADA, {"first_name": "Ada"})],
            id="utf8-bom",
        ),
        pytest.param(
            b"number;first_name;city\r\n+15551234567;Ada;Paris, France\r\n",
            [Recipient(2, ADA, {"first_name": "Ada", "city": "Paris, France"})],
            id="semicolon-excel-europe",
        ),
        pytest.param(b"number\tfirst_name\n+15551234567\tAda\n", [Recipient(2, ADA, {"first_name": "Ada"})], id="tab"),
        pytest.param(
            b"sep=;\r\nnumber;name, first\r\n+15551234567;Ada\r\n",
            [Recipient(3, ADA, {"name_first": "Ada"})],
            id="excel-sep-hint-line",
        ),
        pytest.param(
            b'"number","first name"\n"+15551234567","Lovelace, Ada"\n',
            [Recipient(2, ADA, {"first_name": "Lovelace, Ada"})],
            id="quoted-header-and-field-with-comma",
        ),
        pytest.param(
            b'number;note\n+15551234567;"a;b"\n',
            [Recipient(2, ADA, {"note": "a;b"})],
            id="quoted-field-with-semicolon",
        ),
        pytest.param(
            b'number,note\n+15551234567,"line one\r\nline two"\n+15551234568,x\n',
            [Recipient(2, ADA, {"note": "line one\r\nline two"}), Recipient(4, BOB, {"note": "x"})],
            id="quoted-field-with-newline-moves-the-next-line-number",
        ),
        pytest.param(
            b'number,note\n+15551234567,"She said ""hi"""\n',
            [Recipient(2, ADA, {"note": 'She said "hi"'})],
            id="doubled-quotes",
        ),
        pytest.param(
            b'number,note\n+15551234567, "Smith, J"\n',
            [Recipient(2, ADA, {"note": "Smith, J"})],
            id="space-before-a-quoted-field",
        ),
        pytest.param(
            b"\n\nnumber,first_name\n\n+15551234567,Ada\n\n\n+15551234568,Bob\n\n",
            [Recipient(5, ADA, {"first_name": "Ada"}), Recipient(8, BOB, {"first_name": "Bob"})],
            id="blank-lines-skipped-and-counted",
        ),
        pytest.param(
            b"number,first_name\n,,\n+15551234567,Ada\n , \n",
            [Recipient(3, ADA, {"first_name": "Ada"})],
            id="excel-empty-rows-skipped",
        ),
        pytest.param(
            b"number\n(555) 123-4567\n555.123.4568\n",
            [Recipient(2, ADA, {}), Recipient(3, BOB, {})],
            id="national-numbers-with-separators",
        ),
        pytest.param(b"number\n15551234567\n", [Recipient(2, ADA, {})], id="plus-lost-by-the-spreadsheet"),
        pytest.param(
            b"number\n07911 123456\n", [Recipient(2, "+447911123456", {})], id="national-number-in-gb", marks=[]
        ),
        pytest.param(
            "number\n\u200e+1 555 123 4567\u202c\n".encode(),
            [Recipient(2, ADA, {})],
            id="invisible-marks-copied-from-a-web-page",
        ),
        pytest.param(
            b"number,first_name\n+15551234567,Ada\n+1 (555) 123-4567,Again\n555-123-4567,Third\n",
            [Recipient(2, ADA, {"first_name": "Ada"}), Duplicate(3, ADA, 2), Duplicate(4, ADA, 2)],
            id="duplicates-by-e164",
        ),
        pytest.param(
            b"number,first_name,last_name\n+15551234567\n+15551234568,Bob\n",
            [
                Recipient(2, ADA, {"first_name": "", "last_name": ""}),
                Recipient(3, BOB, {"first_name": "Bob", "last_name": ""}),
            ],
            id="fewer-fields-fill-with-empty",
        ),
        pytest.param(
            b"number,first_name\n+15551234567,Ada,,\n",
            [Recipient(2, ADA, {"first_name": "Ada"})],
            id="trailing-empty-fields-are-fine",
        ),
        pytest.param(
            b"number,first_name,,\n+15551234567,Ada,x,y\n",
            [Recipient(2, ADA, {"first_name": "Ada"})],
            id="unnamed-columns-are-ignored",
        ),
        pytest.param(
            b"number,first_name\n+15551234567,  Ada  \n",
            [Recipient(2, ADA, {"first_name": "Ada"})],
            id="values-are-trimmed",
        ),
        pytest.param(
            "number,first_name\n+15551234567,Ren\u00e9e\n".encode(),
            [Recipient(2, ADA, {"first_name": "Ren\u00e9e"})],
            id="utf8-accent",
        ),
        pytest.param(
            "number;first_name\n+15551234567;Ren\u00e9e \u20ac\n".encode("cp1252"),
            [Recipient(2, ADA, {"first_name": "Ren\u00e9e \u20ac"})],
            id="cp1252-accent-and-euro",
        ),
        pytest.param(
            "Pr\u00e9nom,Number\nAda,+15551234567\n".encode(),
            [Recipient(2, ADA, {"pr\u00e9nom": "Ada"})],
            id="non-ascii-header-and-number-not-first",
        ),
    ],
)
def test_spreadsheet_csvs_are_read_into_recipients(data: bytes, expected: list[RowResult]) -> None:
    assert read(data, region="GB" if b"07911" in data else "US") == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"number\n\n", [], id="header-only"),
        pytest.param(b"number,name\n,Ada\n", [BadRow(2, "no number", ",Ada")], id="no-number"),
        pytest.param(
            b"number\n12345\n",
            [BadRow(2, '"12345" is not a valid phone number in US', "12345")],
            id="invalid-number",
        ),
        pytest.param(
            b"number\n1-800-FLOWERS\n",
            [
                BadRow(
                    2, '"1-800-FLOWERS" is not a phone number: only digits and a leading + are allowed', "1-800-FLOWERS"
                )
            ],
            id="letters",
        ),
        pytest.param(
            b"number,name\n1.5551234567E+10,Ada\n",
            [
                BadRow(
                    2,
                    '"1.5551234567E+10": the number was turned into scientific notation by a spreadsheet; '
                    "format the column as text and export again",
                    "1.5551234567E+10,Ada",
                )
            ],
            id="scientific-notation",
        ),
        pytest.param(
            b"number;name\n1,55512E+10;Ada\n",
            [
                BadRow(
                    2,
                    '"1,55512E+10": the number was turned into scientific notation by a spreadsheet; '
                    "format the column as text and export again",
                    "1,55512E+10;Ada",
                )
            ],
            id="scientific-notation-with-decimal-comma",
        ),
        pytest.param(
            b"number,first_name,last_name\n+15551234567,Smith, John,x\n",
            [BadRow(2, "4 fields, the header has 3", "+15551234567,Smith, John,x")],
            id="too-many-fields",
        ),
        pytest.param(
            b"number,name\n123,x\n+15551234567,Ada\n+15551234567,Ada again\n",
            [
                BadRow(2, '"123" is not a valid phone number in US', "123,x"),
                Recipient(3, ADA, {"name": "Ada"}),
                Duplicate(4, ADA, 3),
            ],
            id="bad-rows-do-not-stop-the-file",
        ),
    ],
)
def test_unusable_rows_are_reported_with_their_line_and_reason(data: bytes, expected: list[RowResult]) -> None:
    assert read(data) == expected


def test_a_bad_row_keeps_at_most_200_characters_of_the_row() -> None:
    [row] = read(b"number,note\n12345," + b"x" * 500 + b"\n")
    assert isinstance(row, BadRow)
    assert row.raw == "12345," + "x" * 194 + "…"


def test_a_duplicate_says_where_the_number_first_appeared() -> None:
    assert Duplicate(7, ADA, 3).reason == "the number +15551234567 appears again (first on line 3)"


@pytest.mark.parametrize(
    ("header", "number_column"),
    [
        pytest.param("number", "number", id="number"),
        pytest.param(" NUMBER ", "number", id="upper-case-padded"),
        pytest.param("Phone", "phone", id="phone"),
        pytest.param("Mobile", "mobile", id="mobile"),
        pytest.param("Phone Number", "phone_number", id="phone-number"),
        pytest.param("Mobile Number", "mobile_number", id="mobile-number"),
    ],
)
def test_the_number_column_may_go_by_a_common_name(header: str, number_column: str) -> None:
    assert number_column in NUMBER_COLUMNS
    assert read(f"{header},name\n+15551234567,Ada\n".encode()) == [Recipient(2, ADA, {"name": "Ada"})]


def test_when_a_file_has_phone_and_mobile_columns_the_mobile_gets_the_sms() -> None:
    assert read(b"phone,mobile\n+15551234568,+15551234567\n") == [Recipient(2, ADA, {"phone": BOB})]


@pytest.mark.parametrize(
    ("header", "key"),
    [
        pytest.param("First Name", "first_name", id="space"),
        pytest.param("  first   name ", "first_name", id="spaces"),
        pytest.param("E-mail", "e_mail", id="dash"),
        pytest.param("Name (given)", "name_given", id="parentheses"),
        pytest.param("Pr\u00e9nom", "pr\u00e9nom", id="accent"),
        pytest.param("#", "", id="nothing-usable"),
    ],
)
def test_header_cells_become_placeholder_keys(header: str, key: str) -> None:
    assert column_key(header) == key


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"", "the file is empty: it has no header row", id="empty"),
        pytest.param(b"\xef\xbb\xbf", "the file is empty: it has no header row", id="only-a-bom"),
        pytest.param(b"\r\n\r\n,,\r\n", "the file is empty: it has no header row", id="only-blank-lines"),
        pytest.param(
            b"name,phone2\nAda,+15551234567\n",
            'the header has no "number" column (found: name, phone2)',
            id="no-number",
        ),
        pytest.param(
            b"+15551234567,Ada\n",
            'the first line must be a header naming the columns, with a "number" column; '
            "it looks like data (+15551234567, Ada)",
            id="no-header-row",
        ),
        pytest.param(b"number,Name,name\n", 'the header has the column "name" more than once', id="same-column-twice"),
        pytest.param(
            b"PK\x03\x04\x14\x00\x06\x00",
            "the file is not CSV text: it is a zip archive (an Excel .xlsx or OpenDocument .ods workbook?); "
            "save it as CSV",
            id="xlsx",
        ),
        pytest.param(
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
            "the file is not CSV text: it is an Excel 97-2003 workbook (.xls); save it as CSV",
            id="xls",
        ),
        pytest.param(b"%PDF-1.7\n", "the file is not CSV text: it is a PDF document", id="pdf"),
        pytest.param(b"\x89PNG\r\n\x1a\n", "the file is not CSV text: it is a PNG image", id="png"),
        pytest.param(
            "number\tname\r\n".encode("utf-16"),
            'the file is not CSV text: it is UTF-16 text (Excel\'s "Unicode Text"); save it as "CSV UTF-8"',
            id="utf16-unicode-text",
        ),
        pytest.param(
            b"\x00\x01\x02\x03binary\nnumber,name\n", "the file is not CSV text: it holds binary data", id="binary"
        ),
        pytest.param(
            "number,name\n".encode("utf-16-le"), "the file is not CSV text: it holds binary data", id="utf16-no-bom"
        ),
        pytest.param(
            b"number" + b",col_x" * 150_000 + b"\n",  # 900 KB, under the 1 MiB line limit
            "the header row is longer than 65,536 characters; is the first line the header?",
            id="a-1-mb-header-of-150-000-columns",
        ),
        pytest.param(
            b"number," + b",".join(b"c%d" % i for i in range(100)) + b"\n",
            "the header has 101 columns; a recipient list may have at most 100",
            id="101-columns",
        ),
        pytest.param(
            b"number" + b",x" * 30_000 + b"\n",
            "the header has 30,001 columns; a recipient list may have at most 100",
            id="30-000-columns-under-64-kb",
        ),
        pytest.param(
            b"number," + b"x" * 2_000_000,
            "the file has a line longer than 1,048,576 bytes: it is not a CSV file",
            id="endless-line",
        ),
        pytest.param(
            b"number,\x81\x8d\n", "line 1 is not text (neither UTF-8 nor Windows-1252)", id="neither-utf8-nor-cp1252"
        ),
    ],
)
def test_a_file_that_is_not_a_recipient_csv_is_refused_as_soon_as_it_is_opened(data: bytes, reason: str) -> None:
    with pytest.raises(CsvError) as caught:
        read_csv(io.BytesIO(data), default_region="US")
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(
            b'number,note\n+15551234567,"never closed\n+15551234568,x\n',
            "line 2: a quote opened in this row is never closed",
            id="quote-left-open",
        ),
        pytest.param(
            b'number,note\n+15551234567,"' + b"x\n" * 70_000,
            "line 2: a field is longer than 131,072 characters (is a quote left open?)",
            id="quote-left-open-in-a-big-file",
        ),
        pytest.param(
            "number,name\n+15551234567,Ren\u00e9e\n+15551234568,".encode() + "Ren\u00e9e\n".encode("cp1252"),
            'line 3 is not valid UTF-8 though earlier lines are; save the file as "CSV UTF-8"',
            id="utf8-then-cp1252",
        ),
        pytest.param(b"number\n" + b"+15551234567\n" * 3, "more than 2 rows", id="too-many-rows"),
    ],
)
def test_a_problem_found_later_in_the_file_stops_it_while_iterating(data: bytes, reason: str) -> None:
    rows = read_csv(io.BytesIO(data), default_region="US", max_rows=2)
    with pytest.raises(CsvError) as caught:
        list(rows)
    assert caught.value.reason == reason


def test_the_row_limit_counts_data_rows_not_blank_lines_and_yields_up_to_it() -> None:
    data = b"number\n\n\n+15551234567\n\n+15551234568\n\n"
    assert read(data, max_rows=2) == [Recipient(4, ADA, {}), Recipient(6, BOB, {})]
    rows = read_csv(io.BytesIO(data + b"+15551234569\n"), default_region="US", max_rows=2)
    assert [next(rows), next(rows)] == [Recipient(4, ADA, {}), Recipient(6, BOB, {})]
    with pytest.raises(CsvError, match=r"^more than 2 rows$"):
        next(rows)


def test_the_row_limit_is_written_with_thousands_separators() -> None:
    data = b"number\n" + b"".join(b"+1555%07d\n" % i for i in range(1001))
    with pytest.raises(CsvError, match=r"^more than 1,000 rows$"):
        read(data, max_rows=1000)


def test_a_cp1252_file_whose_first_accent_comes_after_64_kib_is_still_read() -> None:
    ascii_rows = b"".join(b"+1555%07d,Name\r\n" % i for i in range(5000))  # ~90 KiB of ASCII
    data = b"number,name\r\n" + ascii_rows + "+15559999999,Ren\u00e9e\r\n".encode("cp1252")
    rows = read(data)
    assert len(rows) == 5001
    assert rows[-1] == Recipient(5002, "+15559999999", {"name": "Ren\u00e9e"})


def test_the_template_is_a_valid_recipient_csv() -> None:
    assert TEMPLATE_CSV == "number,first_name,last_name\r\n+15551234567,Ada,Lovelace\r\n"
    assert read(TEMPLATE_CSV.encode()) == [Recipient(2, ADA, {"first_name": "Ada", "last_name": "Lovelace"})]


# No lone CR: Python 3.11's csv.writer leaves a field with one unquoted when the line end is LF, and an unquoted CR
# is a line break to every reader.
# Control characters (but tab and LF) make a bad row: see the tests further down.
values = st.text(st.characters(codec="utf-8", exclude_categories=("Cc",), include_characters="\t\n"), max_size=12).map(
    str.strip
)


@settings(max_examples=60, deadline=None)
@given(
    people=st.lists(
        st.tuples(st.integers(0, 9_999_999), values, values), min_size=1, max_size=15, unique_by=lambda p: p[0]
    ),
    delimiter=st.sampled_from([",", ";", "\t"]),
    line_end=st.sampled_from(["\r\n", "\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig"]),
)
def test_whatever_a_csv_writer_writes_is_read_back_with_its_line_numbers(
    people: list[tuple[int, str, str]], delimiter: str, line_end: str, encoding: str
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(["number", "First Name", "note"])
    expected: list[RowResult] = []
    for digits, name, note in people:
        line = len(re.findall(r"\r\n|\r|\n", out.getvalue())) + 1
        number = f"+1555{digits:07d}"
        writer.writerow([number, name, note])
        expected.append(Recipient(line, number, {"first_name": name, "note": note}))
    assert read(out.getvalue().encode(encoding)) == expected


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 10**15 - 1), max_size=3000))
def test_the_table_of_first_lines_agrees_with_a_dict(keys: list[int]) -> None:
    table, reference = FirstLines(), dict[int, int]()
    for line, key in enumerate(keys):
        assert table.setdefault(key, line) == reference.setdefault(key, line)


def test_reading_is_lazy_the_first_row_of_an_endless_file_comes_back() -> None:
    def endless() -> Iterator[bytes]:
        yield b"number,name\r\n"
        while True:
            yield b"+15551234567,Ada\r\n"

    stream = GeneratedStream(endless())
    rows = read_csv(io.BufferedReader(stream), default_region="US")
    assert next(rows) == Recipient(2, ADA, {"name": "Ada"})
    assert next(rows) == Duplicate(3, ADA, 2)
    assert stream.served < 1024 * 1024


def test_a_200_000_row_50_mb_file_is_read_with_flat_memory() -> None:
    """The file is 50 MB; holding it (as bytes or text) would exceed the bound several times over.

    Every tenth row carries a number (20,000 numbers to remember); the others have none, so the test spends its
    time on the reading and not in phonenumbers.
    """
    rows, note = 200_000, b"x" * 240

    def lines() -> Iterator[bytes]:
        yield b"number,first_name,note\r\n"
        for i in range(rows):
            number = b"+1555%07d" % i if i % 10 == 0 else b""
            yield b"%s,Name%d,%s\r\n" % (number, i, note)

    stream = GeneratedStream(lines())
    kinds = {"Recipient": 0, "BadRow": 0, "Duplicate": 0}
    with peak_growth() as grown:
        for row in read_csv(io.BufferedReader(stream), default_region="US"):
            kinds[type(row).__name__] += 1
    assert stream.served > 50_000_000
    assert kinds == {"Recipient": 20_000, "BadRow": 180_000, "Duplicate": 0}
    assert grown.bytes < 16_000_000, f"peak {grown.bytes:,} bytes"


# --- control characters in cells (issue 9 §1) and bounded headers (issue 10) ----------------------------------------


def test_a_nul_in_a_cell_makes_its_row_a_bad_row_naming_the_column_and_the_rest_are_read() -> None:
    data = b"number,First Name\n+15551234567,A\x00da\n+15551234568,Bob\n"
    assert read(data) == [
        BadRow(
            2,
            'the "First Name" column holds a NUL character (U+0000) at position 2; '
            "control characters (other than tab and line breaks) and lone surrogates are not allowed",
            "+15551234567,A\ufffdda",
        ),
        Recipient(3, BOB, {"first_name": "Bob"}),
    ]


def test_a_nul_cell_after_the_first_64_kib_is_a_bad_row_reported_by_its_line() -> None:
    """The finding: the binary probe looked at the first 64 KiB only, and a later NUL reached the database."""
    rows = b"".join(b"+1555%07d,Name\n" % i for i in range(5000))  # ~85 KiB
    data = b"number,name\n" + rows + b"+15559999999,Ev\x00e\n+15559999998,Eve\n"
    result = read(data)
    assert len(result) == 5002
    bad = result[-2]
    assert isinstance(bad, BadRow) and bad.line == 5002
    assert bad.reason.startswith('the "name" column holds a NUL character (U+0000) at position 3')
    assert result[-1] == Recipient(5003, "+15559999998", {"name": "Eve"})


@pytest.mark.parametrize(
    ("cell", "what"),
    [
        pytest.param("\x1b[31m", "a control character (U+001B)", id="escape"),
        pytest.param("x\x7f", "a control character (U+007F)", id="delete"),
        pytest.param("\x85", "a control character (U+0085)", id="c1-next-line"),
    ],
)
def test_any_control_character_in_a_cell_makes_a_bad_row(cell: str, what: str) -> None:
    [row] = read(f"number,note\n+15551234567,{cell}\n".encode())
    assert isinstance(row, BadRow) and what in row.reason and '"note" column' in row.reason


def test_tabs_and_line_breaks_inside_a_cell_are_fine() -> None:
    data = b'number,note\n+15551234567,"two\r\nlines\tand a tab"\n'
    assert read(data) == [Recipient(2, ADA, {"note": "two\r\nlines\tand a tab"})]


def test_a_header_of_100_columns_and_trailing_empty_cells_is_accepted() -> None:
    header = b"number," + b",".join(b"c%d" % i for i in range(99)) + b"," * 500 + b"\n"
    [row] = read(header + b"+15551234567\n")
    assert isinstance(row, Recipient) and len(row.fields) == 99


def test_a_header_with_many_unnamed_columns_is_not_read_as_duplicates() -> None:
    assert read(b"number,,#,name\n+15551234567,x,y,Ada\n") == [Recipient(2, ADA, {"name": "Ada"})]


# Bytes as a hostile upload would send them: text with NULs, controls and surrogates (encoded with surrogatepass, so
# not valid UTF-8), delimiters, quotes and line breaks, and sometimes a header far too wide.
_hostile_text = st.lists(
    st.one_of(
        st.text(st.characters(codec="utf-8"), max_size=8),
        st.sampled_from(["\x00", "\x1b", "\ud800", "\udfff", ",", ";", "\t", '"', "\r", "\n", "+1555", "1234567"]),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    header=st.one_of(st.just("number,name"), _hostile_text, st.integers(90, 3000).map(lambda n: "number" + ",c" * n)),
    body=st.lists(_hostile_text, max_size=20),
)
def test_any_upload_either_reads_into_storable_rows_or_raises_csv_error(header: str, body: list[str]) -> None:
    data = "\n".join([header, *body]).encode("utf-8", "surrogatepass")
    try:
        rows = list(read_csv(io.BytesIO(data), default_region="US"))
    except CsvError as exc:
        assert exc.reason and is_clean(exc.reason)
        return
    for row in rows:
        if isinstance(row, Recipient):
            assert is_clean(row.number) and all(is_clean(k) and is_clean(v) for k, v in row.fields.items())
        else:
            assert is_clean(row.reason)
