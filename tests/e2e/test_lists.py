"""Saved lists (/api/v2/lists) over real HTTP against `parley serve`."""

from __future__ import annotations

from typing import Any

import httpx

from parley.core.recipients import TEMPLATE_CSV
from tests.support.server import ParleyServer

ALICE = ("101", "sms101api")  # admin
BOB = ("102", "bob-secret")


def client(server: ParleyServer, auth: tuple[str, str] | None = ALICE) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, auth=auth, timeout=30)


async def new_list(c: httpx.AsyncClient, name: str = "Customers") -> dict[str, Any]:
    response = await c.post("/api/v2/lists", json={"name": name})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_lists_are_created_renamed_listed_and_deleted(api_server: ParleyServer) -> None:
    async with client(api_server) as c:
        created = await new_list(c, "Customers")
        renamed = await c.patch(f"/api/v2/lists/{created['id']}", json={"name": "VIP customers"})
        listed = await c.get("/api/v2/lists")
        deleted = await c.delete(f"/api/v2/lists/{created['id']}")
        gone = await c.get(f"/api/v2/lists/{created['id']}")
    assert {k: created[k] for k in ("name", "columns", "entries", "created_by")} == {
        "name": "Customers", "columns": [], "entries": 0, "created_by": "101",
    }  # fmt: skip
    assert renamed.json()["name"] == "VIP customers"
    assert [x["name"] for x in listed.json()] == ["VIP customers"]
    assert deleted.status_code == 204
    assert gone.status_code == 404


async def test_lists_are_shared_so_any_user_manages_them(api_server: ParleyServer) -> None:
    async with client(api_server) as alice, client(api_server, BOB) as bob:
        created = await new_list(alice)
        added = await bob.post(f"/api/v2/lists/{created['id']}/entries", json={"number": "+15551234567"})
        renamed = await bob.patch(f"/api/v2/lists/{created['id']}", json={"name": "Bob's now"})
    assert added.status_code == 201
    assert renamed.json()["created_by"] == "101"


async def test_the_template_downloads_as_a_csv_attachment_that_uploads_back(api_server: ParleyServer) -> None:
    async with client(api_server) as c:
        template = await c.get("/api/v2/lists/template.csv")
        created = await new_list(c)
        report = await c.post(
            f"/api/v2/lists/{created['id']}/upload", files={"file": ("template.csv", template.content, "text/csv")}
        )
    assert template.status_code == 200
    assert template.headers["content-type"].startswith("text/csv")
    assert template.headers["content-disposition"].startswith("attachment")
    assert template.text == TEMPLATE_CSV
    assert report.json()["added"] == 1


async def test_a_multipart_upload_answers_with_a_report_of_its_rows(api_server: ParleyServer) -> None:
    data = (
        "\ufeffNumber;First Name\r\n"
        "+15551234567;Ada\r\n"
        "(555) 123-4568;Bob\r\n"
        "not a number;Carl\r\n"
        "555-123-4567;Ada again\r\n"
        "1.55512E+10;Dan\r\n"
    ).encode()
    async with client(api_server) as c:
        created = await new_list(c)
        await c.post(f"/api/v2/lists/{created['id']}/entries", json={"number": "+15551234568"})
        response = await c.post(
            f"/api/v2/lists/{created['id']}/upload", files={"file": ("customers.csv", data, "text/csv")}
        )
        after = (await c.get(f"/api/v2/lists/{created['id']}")).json()
    assert response.status_code == 200, response.text
    report = response.json()
    assert {k: report[k] for k in ("added", "already_in_list", "duplicates_in_file", "bad_rows")} == {
        "added": 1, "already_in_list": 1, "duplicates_in_file": 1, "bad_rows": 2,
    }  # fmt: skip
    assert [p["line"] for p in report["problems"]] == [4, 6]
    assert "scientific notation" in report["problems"][1]["reason"]
    assert (after["entries"], after["columns"]) == (2, ["first_name"])


async def test_a_raw_csv_body_is_an_upload_too(api_server: ParleyServer) -> None:
    async with client(api_server) as c:
        created = await new_list(c)
        response = await c.post(
            f"/api/v2/lists/{created['id']}/upload",
            content=b'number,first_name\n+447700900123,"Smith, John"\n',
            headers={"Content-Type": "text/csv"},
        )
        entries = (await c.get(f"/api/v2/lists/{created['id']}/entries")).json()
    assert response.json()["added"] == 1
    assert entries["entries"][0]["fields"] == {"first_name": "Smith, John"}


async def test_a_file_that_is_not_csv_is_refused_with_the_reason_and_nothing_is_added(
    api_server: ParleyServer,
) -> None:
    workbook = b"PK\x03\x04\x14\x00\x06\x00" + bytes(500)
    async with client(api_server) as c:
        created = await new_list(c)
        refused = await c.post(
            f"/api/v2/lists/{created['id']}/upload", files={"file": ("customers.xlsx", workbook, "application/zip")}
        )
        no_file = await c.post(f"/api/v2/lists/{created['id']}/upload", files={"other": ("x.csv", b"number\n")})
        after = (await c.get(f"/api/v2/lists/{created['id']}")).json()
    assert refused.status_code == 422
    [problem] = refused.json()["detail"]
    assert problem["loc"] == ["body", "file"]
    assert "zip archive" in problem["msg"]
    assert no_file.status_code == 422
    assert no_file.json()["detail"][0]["loc"] == ["body", "file"]
    assert after == created


async def test_entries_are_added_edited_paged_and_removed(api_server: ParleyServer) -> None:
    async with client(api_server) as c:
        created = await new_list(c)
        base = f"/api/v2/lists/{created['id']}/entries"
        added = await c.post(base, json={"number": "555 123 4568", "fields": {"First Name": "Bob"}})
        await c.post(base, json={"number": "+15551234567", "fields": {"first_name": "Ada"}})
        await c.post(base, json={"number": "+447700900123"})
        twice = await c.post(base, json={"number": "+1 555 123 4567"})
        edited = await c.patch(f"{base}/+15551234568", json={"fields": {"city": "Rome"}})
        first = (await c.get(base, params={"limit": 2})).json()
        second = (await c.get(base, params={"limit": 2, "after": first["next"]})).json()
        removed = await c.delete(f"{base}/%2B15551234567")
        removed_again = await c.delete(f"{base}/%2B15551234567")
        unreadable = await c.delete(f"{base}/12")
        listed = (await c.get(f"/api/v2/lists/{created['id']}")).json()
    assert added.status_code == 201
    assert added.json()["number"] == "+15551234568"
    assert twice.status_code == 409
    assert edited.json()["fields"] == {"first_name": "Bob", "city": "Rome"}
    assert [e["number"] for e in first["entries"] + second["entries"]] == [
        "+15551234567",
        "+15551234568",
        "+447700900123",
    ]
    assert second["next"] is None
    assert (removed.status_code, removed_again.status_code, unreadable.status_code) == (204, 404, 404)
    assert (listed["entries"], listed["columns"]) == (2, ["first_name", "city"])


async def test_bad_requests_get_clear_answers(api_server: ParleyServer) -> None:
    async with client(api_server) as c, client(api_server, None) as anonymous:
        await new_list(c, "Customers")
        taken = await c.post("/api/v2/lists", json={"name": "Customers"})
        empty = await c.post("/api/v2/lists", json={"name": " "})
        extra = await c.post("/api/v2/lists", json={"name": "x", "owner": "me"})
        unknown = [
            await c.get("/api/v2/lists/999"),
            await c.patch("/api/v2/lists/999", json={"name": "x"}),
            await c.delete("/api/v2/lists/999"),
            await c.get("/api/v2/lists/999/entries"),
            await c.post("/api/v2/lists/999/entries", json={"number": "+15551234567"}),
            await c.post("/api/v2/lists/999/upload", files={"file": ("a.csv", b"number\n+15551234567\n")}),
        ]
        bad_number = await c.post("/api/v2/lists", json={"name": "Other"})
        bad_entry = await c.post(f"/api/v2/lists/{bad_number.json()['id']}/entries", json={"number": "12"})
        no_auth = await anonymous.get("/api/v2/lists")
    assert taken.status_code == 409
    assert "Customers" in taken.json()["detail"]
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["loc"] == ["body", "name"]
    assert extra.status_code == 422
    assert [r.status_code for r in unknown] == [404] * len(unknown)
    assert bad_entry.status_code == 422
    assert bad_entry.json()["detail"][0]["loc"] == ["body", "number"]
    assert no_auth.status_code == 401
