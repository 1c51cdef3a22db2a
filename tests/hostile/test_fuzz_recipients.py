"""CSV uploads, fuzzed: any bytes and odd-but-CSV-shaped files read as rows or raise `CsvError`, never anything else,
and every row read can be stored (`core/recipients.py` belongs to another part of issue 9; this is a test of it)."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.core.recipients import BadRow, CsvError, Duplicate, Recipient, read_csv
from parley.ingress.inputs import text_problem

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cells = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"\+?1?[ (]?555[) .-]?\d{3}[ -]?\d{4}", fullmatch=True),
    st.sampled_from(
        ["+15551234567", "5551234567", "1.55512E+10", "", '"', '""', "a,b", "x\r\ny", "\x00", "é", "\ufeff"]
    ),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
)
headers = st.lists(st.one_of(st.sampled_from(["number", "phone", "Mobile Number", "First Name", "#", ""]), cells),
                   min_size=1, max_size=5)  # fmt: skip


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = draw(headers)
    if draw(st.integers(0, 4)):  # mostly a usable header, so that the rows themselves get read
        header = ["number", *header]
    rows = [header, *draw(st.lists(st.lists(cells, max_size=6), max_size=8))]
    quote = draw(st.booleans())
    text = draw(st.sampled_from(["\r\n", "\n", "\r"])).join(
        delimiter.join(f'"{c}"' if quote else c for c in row) for row in rows
    )
    if draw(st.booleans()):
        text = f"sep={delimiter}\n" + text
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16", "latin-1"]))
    tail = draw(st.one_of(st.just(b""), st.binary(max_size=8)))
    return text.encode(encoding, errors="replace") + tail


def read_all(data: bytes, max_rows: int | None = None) -> list[Recipient | BadRow | Duplicate]:
    return list(read_csv(io.BytesIO(data), default_region="US", max_rows=max_rows))


def check(data: bytes) -> None:
    try:
        rows = read_all(data, max_rows=20)
    except CsvError as exc:
        assert exc.reason
        return
    for row in rows:
        assert isinstance(row, Recipient | BadRow | Duplicate)
        texts = [row.number, *row.fields, *row.fields.values()] if isinstance(row, Recipient) else [row.reason]
        for text in texts:
            assert text_problem(text) is None, repr(text)


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_are_rows_or_a_csv_error(data: bytes) -> None:
    check(data)


@FUZZ
@given(csv_files())
def test_any_csv_shaped_file_is_rows_that_can_be_stored_or_a_csv_error(data: bytes) -> None:
    check(data)
