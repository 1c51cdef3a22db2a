"""The Wildix-compatible API over real HTTP, answers exactly as contracts/wildix-sms-api.md says."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import httpx
import pytest

from tests.support.server import ParleyServer

ALICE = ("101", "sms101api")
SUCCESS = {"type": "result", "result": "Success"}


def _error(reason: str) -> dict[str, Any]:
    return {"type": "error", "reason": reason, "result": None}


async def _messages(server: ParleyServer, **params: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as client:
        response = await client.get("/api/v2/messages", params=params)
    response.raise_for_status()
    return list(response.json()["messages"])


@pytest.mark.skipif(shutil.which("curl") is None, reason="the curl program is not installed")
async def test_the_seed_curl_line_works_verbatim(api_server: ParleyServer) -> None:
    url = f"{api_server.url}/api/v1/originate/sms"
    result = subprocess.run(
        [
            "curl",
            "-k",
            "-s",
            "-X",
            "POST",
            "-u",
            "101:sms101api",
            "--url",
            url,
            "--data-urlencode",
            "number=+15551234567",
            "--data-urlencode",
            "message=Hello",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout == '{"type":"result","result":"Success"}'
    [message] = await _messages(api_server)
    assert (message["to"], message["from"], message["body"], message["status"]) == (
        "+15551234567",
        "+15551230001",
        "Hello",
        "queued",
    )
    assert message["source"] == "wildix"


async def test_get_with_query_fields_sends_as_the_authenticated_user(api_server: ParleyServer) -> None:
    async with httpx.AsyncClient(base_url=api_server.url) as client:
        response = await client.get(
            "/api/v1/originate/sms",
            params={"number": "+447700900123", "message": "Hi there"},
            auth=("102", "bob-secret"),
        )
    assert response.status_code == 200
    assert response.json() == SUCCESS
    [message] = await _messages(api_server, user="102")
    assert message["from"] == "Bob Jones"  # sender ID outside +1
    assert message["user"] == "102"


async def test_an_unencoded_plus_is_read_as_plus_and_several_numbers_are_sent(
    api_server: ParleyServer,
) -> None:
    body = "number=+15551234567,+447700900123&message=two"  # '+' not encoded: arrives as spaces
    async with httpx.AsyncClient(base_url=api_server.url, auth=ALICE) as client:
        response = await client.post(
            "/api/v1/originate/sms",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert response.json() == SUCCESS
    assert sorted(m["to"] for m in await _messages(api_server)) == ["+15551234567", "+447700900123"]


async def test_multipart_forms_are_accepted(api_server: ParleyServer) -> None:
    async with httpx.AsyncClient(base_url=api_server.url, auth=ALICE) as client:
        response = await client.post(
            "/api/v1/originate/sms", files={"number": (None, "+15551234567"), "message": (None, "multi")}
        )
    assert response.json() == SUCCESS


async def test_quotes_backslashes_and_slashes_are_replaced_with_spaces(api_server: ParleyServer) -> None:
    async with httpx.AsyncClient(base_url=api_server.url, auth=ALICE) as client:
        await client.post(
            "/api/v1/originate/sms",
            data={"number": "+15551234567", "message": 'It\'s "a" \u201cb\u201d a\\b/c'},
        )
    [message] = await _messages(api_server)
    assert message["body"] == "It s  a   b  a b c"


async def test_some_bad_numbers_give_a_warning_listing_them_and_the_rest_are_queued(
    api_server: ParleyServer,
) -> None:
    async with httpx.AsyncClient(base_url=api_server.url, auth=ALICE) as client:
        response = await client.post("/api/v1/originate/sms", data={"number": "+15551234567,111", "message": "x"})
    assert response.status_code == 200
    assert response.json() == {
        "type": "warning",
        "reason": "Unable to add a SMS to the queue",
        "result": ["111"],
    }
    assert [m["to"] for m in await _messages(api_server)] == ["+15551234567"]


async def test_postpone_schedules_the_message_in_the_pbx_time_zone(api_server: ParleyServer) -> None:
    async with httpx.AsyncClient(base_url=api_server.url, auth=ALICE) as client:
        response = await client.post(
            "/api/v1/originate/sms",
            data={"number": "+15551234567", "message": "later", "postpone": "14/07/2099 15:35"},
        )
    assert response.json() == SUCCESS
    [message] = await _messages(api_server)
    assert message["status"] == "scheduled"
    assert message["send_at"].startswith("2099-07-14T19:35:00")  # America/New_York is UTC-4 in July


@pytest.mark.parametrize(
    ("auth", "fields", "status", "reason"),
    [
        pytest.param(ALICE, {"number": "", "message": "x"}, 400, "Number should not be empty", id="empty-number"),
        pytest.param(
            ALICE,
            {"number": "+15551234567", "message": ""},
            400,
            "Message should not be empty",
            id="empty-message",
        ),
        pytest.param(
            ALICE,
            {"number": "+15551234567", "message": "a" * 671},
            400,
            "Message is longer than 670 characters",
            id="too-long",
        ),
        pytest.param(
            ALICE,
            {"number": "+15551234567", "message": "x", "postpone": "2099-07-14 15:35"},
            400,
            "Postpone should be in the format dd/mm/YYYY HH:MM",
            id="bad-postpone",
        ),
        pytest.param(
            ALICE,
            {"number": "+15551234567", "message": "x", "gsm": "001122334455"},
            400,
            'Unknown GSM gateway "001122334455"',
            id="unknown-gsm",
        ),
        pytest.param(
            ("102", "bob-secret"),
            {"number": "+15551234567", "message": "x"},
            400,
            None,
            id="plus-one-without-office-number",
        ),
        pytest.param(
            ("103", "carl-secret"),
            {"number": "+15551234567", "message": "x"},
            403,
            None,
            id="license-too-low",
        ),
        pytest.param(
            ("101", "wrong"),
            {"number": "+15551234567", "message": "x"},
            401,
            "Wrong credentials",
            id="wrong-password",
        ),
        pytest.param(None, {"number": "+15551234567", "message": "x"}, 401, "Wrong credentials", id="no-credentials"),
    ],
)
async def test_errors_have_the_contract_shape_and_status(
    api_server: ParleyServer,
    auth: tuple[str, str] | None,
    fields: dict[str, str],
    status: int,
    reason: str | None,
) -> None:
    async with httpx.AsyncClient(base_url=api_server.url) as client:
        response = await client.post("/api/v1/originate/sms", data=fields, auth=auth)
    assert response.status_code == status
    body = response.json()
    assert body["type"] == "error" and body["result"] is None
    if reason is not None:
        assert body == _error(reason)
    if status == 401:
        assert response.headers["www-authenticate"].lower().startswith("basic")
    if status == 403:
        assert "license" in body["reason"]
    assert await _messages(api_server) == []


async def test_a_gsm_id_routes_the_message_to_that_gateway(api_server: ParleyServer) -> None:
    async with httpx.AsyncClient(base_url=api_server.url, auth=ALICE) as client:
        response = await client.post(
            "/api/v1/originate/sms",
            data={"number": "+15551234567", "message": "via gsm", "gsm": "9C:75:14:33:00:01"},
        )
    assert response.json() == SUCCESS
    [message] = await _messages(api_server)
    assert message["gsm"] == "9c7514330001"
