"""Hostile input to the HTTP APIs, each once a 500 on PostgreSQL (issue 9 §2): now a 4xx naming what is wrong."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.hostile.conftest import ADMIN, USER
from tests.support.server import ParleyServer


@pytest.fixture
def admin(pg_server: ParleyServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pg_server.url, auth=ADMIN, timeout=30) as client:
        yield client


def raw_json(client: httpx.Client, method: str, path: str, body: str) -> httpx.Response:
    """``body`` sent as written: httpx would refuse to encode a lone surrogate, which JSON may well carry."""
    return client.request(method, path, content=body.encode(), headers={"content-type": "application/json"})


def problem(response: httpx.Response) -> tuple[list[Any], str]:
    (error,) = response.json()["detail"]
    return error["loc"], error["msg"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v2/lists/2147483648"),
        ("GET", "/api/v2/lists/99999999999999999999999"),
        ("GET", "/api/v2/lists/0"),
        ("GET", "/api/v2/lists/2147483648/entries"),
        ("PATCH", "/api/v2/lists/2147483648/entries/+15551234567"),
        ("DELETE", "/api/v2/lists/2147483648"),
        ("GET", "/api/v2/lists/not-a-number"),
    ],
)
def test_a_list_id_out_of_the_integer_range_names_no_list(admin: httpx.Client, method: str, path: str) -> None:
    body = {"fields": {"a": "b"}} if method == "PATCH" else None
    response = admin.request(method, path, json=body)
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


def test_a_campaign_from_a_list_id_out_of_range_is_refused_naming_it(admin: httpx.Client) -> None:
    response = admin.post(
        "/api/v2/campaigns", json={"name": "x", "sender": "+15551230001", "message": "hi", "list_id": 2**31}
    )
    assert response.status_code == 422
    assert problem(response)[0] == ["body", "list_id"]


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v2/messages?to=%00", "to"),
        ("/api/v2/messages?status=queued&from=a%00b", "from"),
        ("/api/v2/conversations?customer=%00", "customer"),
        ("/api/v2/campaigns?status=%00", "status"),
        ("/api/v2/blocklist?after=%00", "after"),
        ("/api/v2/lists/1/entries?after=%00", "after"),
        ("/inbox?q=%00", "q"),
    ],
)
def test_a_nul_in_a_query_string_is_refused_naming_the_parameter(admin: httpx.Client, path: str, name: str) -> None:
    response = admin.get(path)
    assert response.status_code == 422
    assert problem(response) == (["query", name], "must not contain NUL characters")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v2/messages/%00"),
        ("GET", "/api/v2/conversations/a%00b"),
        ("GET", "/api/v2/campaigns/%00"),
        ("GET", "/api/v2/numbers/%00"),
        ("DELETE", "/api/v2/blocklist/%00"),
        ("GET", "/inbox/%00"),
    ],
)
def test_a_nul_in_a_path_names_nothing(admin: httpx.Client, method: str, path: str) -> None:
    assert admin.request(method, path).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "loc", "msg"),
    [
        ("POST", "/api/v2/messages", '{"to": "+15551234567", "text": "a\\u0000b"}', ["body", "text"], "NUL"),
        ("POST", "/api/v2/messages", '{"to": "+15551234567", "text": "\\ud800"}', ["body", "text"], "surrogate"),
        ("POST", "/api/v2/messages", '{"to": ["+15551234567", "\\u0000"], "text": "hi"}', ["body", "to", 1], "NUL"),
        ("POST", "/api/v2/lists", '{"name": "\\udc00"}', ["body", "name"], "surrogate"),
        (
            "POST",
            "/api/v2/campaigns",
            '{"name": "x\\u0000", "sender": "+15551230001", "message": "hi"}',
            ["body", "name"],
            "NUL",
        ),
        ("POST", "/api/v2/conversations", '{"to": "\\u0000", "service": "Support"}', ["body", "to"], "NUL"),
        (
            "PUT",
            "/api/v2/numbers/+15551230001/settings",
            '{"routing": {"type": "agent", "target": "1\\u00000"}}',
            ["body", "routing", "target"],
            "NUL",
        ),
        ("POST", "/api/v2/blocklist", '{"number\\ud800": "1"}', ["body", "number\\ud800"], "surrogate"),
    ],
)
def test_a_nul_or_lone_surrogate_in_a_json_body_is_refused_naming_the_field(
    admin: httpx.Client, method: str, path: str, body: str, loc: list[Any], msg: str
) -> None:
    response = raw_json(admin, method, path, body)
    assert response.status_code == 422
    found_loc, found_msg = problem(response)
    assert found_loc == loc
    assert msg in found_msg


def test_a_lone_surrogate_sent_as_raw_utf8_bytes_is_refused_too(admin: httpx.Client) -> None:
    body = b'{"to": "+15551234567", "text": "\xed\xa0\x80"}'  # CESU-8: Python's JSON reader lets it through
    response = admin.post("/api/v2/messages", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert problem(response)[0] == ["body", "text"]


def test_a_nul_in_a_console_form_is_refused_before_any_page_reads_it(pg_server: ParleyServer) -> None:
    with httpx.Client(base_url=pg_server.url) as client:
        response = client.post("/login", data={"extension": "10\x001", "password": "x", "csrf": "x"})
    assert response.status_code == 422
    assert problem(response) == (["body", "extension"], "must not contain NUL characters")


def test_a_console_list_id_out_of_the_integer_range_names_no_list(pg_server: ParleyServer) -> None:
    with httpx.Client(base_url=pg_server.url) as console:
        csrf = re.search(r'name="csrf" value="([^"]+)"', console.get("/login").text)
        assert csrf is not None
        signed_in = console.post("/login", data={"extension": ADMIN[0], "password": ADMIN[1], "csrf": csrf[1]})
        assert signed_in.status_code == 303
        assert console.get("/lists/2147483648").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "loc"),
    [
        (
            "POST",
            "/api/v2/campaigns",
            {"name": "x", "sender": "+15551230001", "message": "hi", "start_at": "0001-01-01T00:00:00+01:00"},
            ["body", "start_at"],
        ),
        ("POST", "/api/v2/messages", {"to": "+15551234567", "text": "hi", "send_at": "9999-12-31T23:59:59-01:00"},
         ["body", "send_at"]),
        ("GET", "/api/v2/messages?since=9999-12-31T23:59:59-01:00", None, ["query", "since"]),
        ("GET", "/api/v2/messages?until=0001-01-01T00:00:00%2B01:00", None, ["query", "until"]),
        ("GET", "/api/v2/conversations?before=0001-01-01T00:00:00%2B01:00", None, ["query", "before"]),
        (
            "POST",
            "/api/v2/calls",
            {"customer": "+15551234567", "direction": "in", "started_at": "9999-12-31T23:00:00-05:00"},
            ["body", "started_at"],
        ),
    ],
)  # fmt: skip
def test_a_date_out_of_range_is_refused_naming_the_field(
    admin: httpx.Client, method: str, path: str, body: dict[str, Any] | None, loc: list[Any]
) -> None:
    response = admin.request(method, path, json=body)
    assert response.status_code == 422
    assert problem(response)[0] == loc
    assert "between the years 1900 and 8999" in problem(response)[1]


def test_a_call_without_a_time_zone_is_refused_naming_the_field(admin: httpx.Client) -> None:
    call = {"customer": "+15551234567", "direction": "in", "started_at": "2026-01-01T10:00:00"}
    response = admin.post("/api/v2/calls", json=call)
    assert response.status_code == 422
    assert problem(response)[0] == ["body", "started_at"]


def test_a_wildix_postpone_past_the_last_date_is_refused_in_the_contracts_shape(admin: httpx.Client) -> None:
    response = admin.post(
        "/api/v1/originate/sms", data={"number": "+15551234567", "message": "hi", "postpone": "31/12/9999 23:59"}
    )
    assert (response.status_code, response.json()) == (
        400,
        {"type": "error", "reason": "Postpone must be between the years 1900 and 8999", "result": None},
    )


def test_a_nul_in_a_wildix_field_is_refused_in_the_contracts_shape(admin: httpx.Client) -> None:
    response = admin.get("/api/v1/originate/sms", params={"number": "+15551234567", "message": "a\x00b"})
    assert response.status_code == 400
    assert response.json()["type"] == "error" and "NUL" in response.json()["reason"]


def basic(raw: bytes) -> bytes:
    return b"Basic " + base64.b64encode(raw)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b"Basic \xe9", id="non-ascii-header-byte"),
        pytest.param(basic(b"1\x0001:sms101api"), id="nul-in-the-extension"),
        pytest.param(basic(b"101:sms\x00101api"), id="nul-in-the-password"),
        pytest.param(basic(b"1" * 33 + b":x"), id="extension-longer-than-any-user-has"),
        pytest.param(basic(b"\xff\xfe:x"), id="not-utf8"),
        pytest.param(basic(b"x"), id="no-colon"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v2/messages", "/api/v1/originate/sms?number=+15551234567&message=hi"])
def test_credentials_that_cannot_be_anyones_are_unauthenticated(
    pg_server: ParleyServer, header: bytes, path: str
) -> None:
    with httpx.Client(base_url=pg_server.url) as client:
        response = client.get(path, headers={"Authorization": header})
    assert response.status_code == 401


def test_a_plain_user_meets_the_same_guard(pg_server: ParleyServer) -> None:
    with httpx.Client(base_url=pg_server.url, auth=USER) as client:
        response = client.get("/api/v2/messages", params={"to": "\x00"})
    assert response.status_code == 422


def test_json_nested_deeper_than_the_parser_goes_is_a_bad_request(admin: httpx.Client) -> None:
    response = raw_json(admin, "POST", "/api/v2/messages", "[" * 100_000 + "]" * 100_000)
    assert response.status_code == 400
    assert json.loads(response.text)["detail"]
