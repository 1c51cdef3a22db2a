"""Saved lists through the service, on SQLite and PostgreSQL: CSV uploads as spreadsheets write them, entries."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from parley.services.directory import DirectoryCache, User
from parley.services.lists import CHUNK_ROWS, ListError, Lists
from parley.store import lists as store
from parley.store.db import Database
from tests.conftest import Clock
from tests.support.memory import peak_growth
from tests.support.provisioning import provision

ADA = "+15551234567"
BOB = "+15551234568"
CARL = "+447700900123"


@pytest.fixture
async def lists(db: Database, clock: Clock) -> Lists:
    await provision(db, clock())  # the PBX country is US
    return Lists(db, DirectoryCache(db, country="US", timezone="UTC"), clock)


@pytest.fixture
async def alice(db: Database, lists: Lists) -> User:
    user = await DirectoryCache(db, country="US", timezone="UTC").user("101")
    assert user is not None
    return user


async def everything(lists: Lists, user: User, list_id: int) -> dict[str, dict[str, str]]:
    page = await lists.entries(user, list_id, after=None, limit=1000)
    assert page["next"] is None
    return {e["number"]: e["fields"] for e in page["entries"]}


@dataclass(frozen=True)
class Case:
    id: str
    csv: bytes
    entries: dict[str, dict[str, str]]
    columns: list[str]
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, a piece of the reason)
    duplicates: int = 0


CASES = [
    Case(
        "excel-bom-semicolon-crlf",
        b"\xef\xbb\xbfNumber;First Name\r\n+15551234567;Ada\r\n+15551234568;Bob\r\n",
        {ADA: {"first_name": "Ada"}, BOB: {"first_name": "Bob"}},
        ["first_name"],
    ),
    Case(
        "quoted-fields-with-delimiters-quotes-and-line-breaks",
        b'number,name,note\r\n"+1 (555) 123-4567","Smith, Ada","says ""hi"""\r\n'
        b'+15551234568,Bob,"two\r\nlines"\r\n+447700900123,Carl,\r\n',
        {
            ADA: {"name": "Smith, Ada", "note": 'says "hi"'},
            BOB: {"name": "Bob", "note": "two\r\nlines"},
            CARL: {"name": "Carl", "note": ""},
        },
        ["name", "note"],
    ),
    Case(
        "national-numbers-read-in-the-pbx-country",
        b"phone\n(555) 123-4567\n555.123.4568\n+44 7700 900123\n",
        {ADA: {}, BOB: {}, CARL: {}},
        [],
    ),
    Case(
        "duplicates-collapse-to-the-first-row",
        b"number,first_name\n+15551234567,Ada\n555-123-4567,Again\n15551234567,Third\n",
        {ADA: {"first_name": "Ada"}},
        ["first_name"],
        duplicates=2,
    ),
    Case(
        "bad-rows-are-reported-by-line-and-reason",
        b"number,first_name\n+15551234567,Ada\nnot a number,Bob\n\n1.55512E+10,Carl\n,Nobody\n+15551234568,Bob,extra\n",
        {ADA: {"first_name": "Ada"}},
        ["first_name"],
        problems=[(3, ""), (5, "scientific notation"), (6, "no number"), (7, "3 fields")],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_a_csv_upload_adds_its_rows_and_reports_the_rest(lists: Lists, alice: User, case: Case) -> None:
    created = await lists.create(alice, "Customers")
    report = await lists.upload_csv(alice, created["id"], io.BytesIO(case.csv))
    assert await everything(lists, alice, created["id"]) == case.entries
    assert (report.added, report.already_in_list, report.duplicates_in_file, report.bad_rows) == (
        len(case.entries),
        0,
        case.duplicates,
        len(case.problems),
    )
    assert [p["line"] for p in report.problems] == [line for line, _ in case.problems]
    for problem, (_, reason) in zip(report.problems, case.problems, strict=True):
        assert reason in problem["reason"]
    saved = await lists.get(alice, created["id"])
    assert saved["entries"] == len(case.entries)
    assert saved["columns"] == case.columns


async def test_uploading_the_same_file_twice_adds_nothing_the_second_time(lists: Lists, alice: User) -> None:
    created = await lists.create(alice, "Customers")
    data = b"number,first_name\n+15551234567,Ada\n+15551234568,Bob\n"
    await lists.upload_csv(alice, created["id"], io.BytesIO(data))
    again = await lists.upload_csv(alice, created["id"], io.BytesIO(data))
    assert (again.added, again.already_in_list) == (0, 2)
    assert (await lists.get(alice, created["id"]))["entries"] == 2


async def test_the_list_columns_become_the_union_of_its_files_placeholders(lists: Lists, alice: User) -> None:
    created = await lists.create(alice, "Customers")
    await lists.upload_csv(alice, created["id"], io.BytesIO(b"number,first_name\n+15551234567,Ada\n"))
    await lists.upload_csv(alice, created["id"], io.BytesIO(b"company,number,First Name\nACME,+15551234568,Bob\n"))
    await lists.add_entry(alice, created["id"], CARL, {"Last Name": "Jones"})
    assert (await lists.get(alice, created["id"]))["columns"] == ["first_name", "company", "last_name"]


@pytest.mark.parametrize(
    "data, reason",
    [
        pytest.param(b"PK\x03\x04\x14\x00\x06\x00" + bytes(200), "zip archive", id="xlsx-workbook"),
        pytest.param(b"%PDF-1.7\n" + bytes(100), "PDF", id="pdf"),
        pytest.param(b"\x00\x01\x02number\n", "binary", id="binary"),
        pytest.param(b"first_name,last_name\nAda,Lovelace\n", '"number"', id="no-number-column"),
        pytest.param(b"", "empty", id="empty"),
    ],
)
async def test_a_file_that_is_not_a_recipient_csv_is_refused_and_nothing_is_written(
    lists: Lists, alice: User, data: bytes, reason: str
) -> None:
    created = await lists.create(alice, "Customers")
    with pytest.raises(ListError) as refused:
        await lists.upload_csv(alice, created["id"], io.BytesIO(data))
    assert (refused.value.status, refused.value.field) == (422, "file")
    assert reason in refused.value.reason
    assert await lists.get(alice, created["id"]) == created


async def test_a_file_found_unreadable_after_committed_chunks_takes_back_what_it_added(
    lists: Lists, alice: User
) -> None:
    created = await lists.create(alice, "Customers")
    await lists.add_entry(alice, created["id"], "+15550000003", {"first_name": "Kept"})
    rows = "".join(f"+1555{i:07d},n{i}\n" for i in range(CHUNK_ROWS + 10))
    data = f'number,first_name,company\n{rows}+15559999999,"never closed\n'.encode()
    with pytest.raises(ListError) as refused:
        await lists.upload_csv(alice, created["id"], io.BytesIO(data))
    assert "never closed" in refused.value.reason
    assert await everything(lists, alice, created["id"]) == {"+15550000003": {"first_name": "Kept"}}
    assert (await lists.get(alice, created["id"]))["columns"] == ["first_name"]


# The memory bound is a property of the streaming reader and the batching, which are the same on both backends
# (the other tests here run on both), so it runs once.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_200000_row_upload_streams_with_flat_memory(
    db: Database, lists: Lists, alice: User, tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", newline="") as out:
        out.write("number,first_name,last_name\r\n")
        for i in range(200_000):
            out.write(f"+1555{i:07d},First{i},Last{i}\r\n")
        out.write("not a number,x,y\r\n+15550000001,dup,dup\r\n")
    created = await lists.create(alice, "Everyone")
    with peak_growth() as grown, path.open("rb") as stream:
        report = await lists.upload_csv(alice, created["id"], stream)
    assert (report.added, report.bad_rows, report.duplicates_in_file) == (200_000, 1, 1)
    assert report.problems == [{"line": 200_002, "reason": report.problems[0]["reason"]}]
    assert grown.bytes < 60 * 1024 * 1024, f"peak {grown.bytes / 1e6:.1f} MB"
    chunks = [len(chunk) async for chunk in store.iter_entries(db, created["id"], chunk=50_000)]
    assert chunks == [50_000] * 4


async def test_the_first_thousand_bad_rows_are_listed_and_all_are_counted(lists: Lists, alice: User) -> None:
    created = await lists.create(alice, "Customers")
    data = b"number\n" + b"nope\n" * 1500 + b"+15551234567\n"
    report = await lists.upload_csv(alice, created["id"], io.BytesIO(data))
    assert (report.added, report.bad_rows, len(report.problems)) == (1, 1500, 1000)
    assert report.problems[0]["line"] == 2
    assert report.problems[-1]["line"] == 1001


async def test_lists_are_created_renamed_and_deleted_with_their_entries(
    lists: Lists, alice: User, clock: Clock
) -> None:
    created = await lists.create(alice, "  Customers ")
    assert {k: created[k] for k in ("name", "columns", "entries", "created_by")} == {
        "name": "Customers", "columns": [], "entries": 0, "created_by": "101",
    }  # fmt: skip
    await lists.add_entry(alice, created["id"], ADA, {})
    clock.advance(minutes=1)
    renamed = await lists.rename(alice, created["id"], "VIP")
    assert (renamed["name"], renamed["entries"]) == ("VIP", 1)
    assert renamed["updated_at"] > created["updated_at"]
    assert [x["name"] for x in await lists.list_(alice)] == ["VIP"]
    await lists.delete(alice, created["id"])
    assert await lists.list_(alice) == []
    with pytest.raises(ListError) as gone:
        await lists.get(alice, created["id"])
    assert gone.value.status == 404


@pytest.mark.parametrize(
    "name, status, reason",
    [
        pytest.param("Customers", 409, 'A list named "Customers" already exists', id="taken"),
        pytest.param("   ", 422, "The list needs a name", id="empty"),
        pytest.param("x" * 201, 422, "longer than 200", id="too-long"),
    ],
)
async def test_a_list_name_must_be_given_and_unique(
    lists: Lists, alice: User, name: str, status: int, reason: str
) -> None:
    await lists.create(alice, "Customers")
    other = await lists.create(alice, "Others")
    for attempt in (lists.create(alice, name), lists.rename(alice, other["id"], name)):
        with pytest.raises(ListError) as refused:
            await attempt
        assert (refused.value.status, refused.value.field) == (status, "name")
        assert reason in refused.value.reason
    assert (await lists.rename(alice, other["id"], "Others"))["name"] == "Others"  # its own name is fine


async def test_an_unknown_list_is_404_for_every_use_case(lists: Lists, alice: User) -> None:
    attempts: list[Callable[[], Awaitable[Any]]] = [
        lambda: lists.get(alice, 99),
        lambda: lists.rename(alice, 99, "x"),
        lambda: lists.delete(alice, 99),
        lambda: lists.entries(alice, 99, after=None, limit=10),
        lambda: lists.add_entry(alice, 99, ADA, {}),
        lambda: lists.update_entry(alice, 99, ADA, {}),
        lambda: lists.remove_entry(alice, 99, ADA),
        lambda: lists.upload_csv(alice, 99, io.BytesIO(b"number\n+15551234567\n")),
    ]
    for attempt in attempts:
        with pytest.raises(ListError) as refused:
            await attempt()
        assert refused.value.status == 404


async def test_entries_are_added_edited_removed_and_paged_by_number(lists: Lists, alice: User) -> None:
    created = await lists.create(alice, "Customers")
    list_id = created["id"]
    added = await lists.add_entry(alice, list_id, "(555) 123-4568", {"First Name": "Bob", "city": "Paris"})
    assert (added["number"], added["fields"]) == (BOB, {"first_name": "Bob", "city": "Paris"})
    await lists.add_entry(alice, list_id, ADA, {"first_name": "Ada"})
    await lists.add_entry(alice, list_id, CARL, {})
    with pytest.raises(ListError) as twice:
        await lists.add_entry(alice, list_id, "555 123 4567", {})
    assert (twice.value.status, twice.value.field) == (409, "number")
    edited = await lists.update_entry(alice, list_id, "5551234568", {"city": "Rome"})
    assert edited["fields"] == {"first_name": "Bob", "city": "Rome"}
    first = await lists.entries(alice, list_id, after=None, limit=2)
    second = await lists.entries(alice, list_id, after=first["next"], limit=2)
    assert [e["number"] for e in first["entries"] + second["entries"]] == [ADA, BOB, CARL]
    assert second["next"] is None
    await lists.remove_entry(alice, list_id, ADA)
    with pytest.raises(ListError) as gone:
        await lists.remove_entry(alice, list_id, ADA)
    assert gone.value.status == 404
    assert (await lists.get(alice, list_id))["entries"] == 2


@pytest.mark.parametrize(
    "number, fields, field_at_fault",
    [
        pytest.param("12", {}, "number", id="too-short-number"),
        pytest.param(ADA, {"#": "x"}, "fields", id="placeholder-without-a-name"),
        pytest.param(ADA, {"Number": "x"}, "fields", id="placeholder-named-number"),
        pytest.param(ADA, {"First Name": "a", "first_name": "b"}, "fields", id="placeholder-given-twice"),
    ],
)
async def test_a_bad_entry_is_refused_with_the_field_at_fault(
    lists: Lists, alice: User, number: str, fields: dict[str, str], field_at_fault: str
) -> None:
    created = await lists.create(alice, "Customers")
    with pytest.raises(ListError) as refused:
        await lists.add_entry(alice, created["id"], number, fields)
    assert (refused.value.status, refused.value.field) == (422, field_at_fault)
    assert (await lists.get(alice, created["id"]))["entries"] == 0


async def test_a_list_name_or_entry_value_with_a_nul_is_refused_naming_the_field(lists: Lists, alice: User) -> None:
    with pytest.raises(ListError) as caught:
        await lists.create(alice, "VIP\x00")
    assert (caught.value.status, caught.value.field) == (422, "name")
    assert caught.value.reason.startswith("The name holds a NUL character (U+0000) at position 4")
    saved = await lists.create(alice, "VIP")
    with pytest.raises(ListError) as caught:
        await lists.add_entry(alice, saved["id"], "+15551234567", {"First Name": "A\ud800"})
    assert (caught.value.status, caught.value.field) == (422, "fields")
    assert caught.value.reason.startswith('The value of "first_name" holds a lone surrogate (U+D800)')


async def test_an_uploaded_row_with_a_nul_cell_is_reported_by_line_and_the_others_are_added(
    lists: Lists, alice: User
) -> None:
    saved = await lists.create(alice, "VIP")
    data = b"number,name\n+15551234567,Ada\n+15551234568,B\x00b\n+15551234569,Cy\n"
    report = await lists.upload_csv(alice, saved["id"], io.BytesIO(data))
    assert (report.added, report.bad_rows) == (2, 1)
    assert report.problems[0]["line"] == 3 and "NUL character" in report.problems[0]["reason"]
