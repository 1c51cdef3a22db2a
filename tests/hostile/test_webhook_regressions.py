"""Hostile payloads to the signed webhooks on PostgreSQL (issue 9 §2): each once a 500, which a carrier retries for
ever. Now every one is answered 2xx (stored, once) or 4xx (naming the field)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from parley.channels.webhook_formats import generic_signature, twilio_signature
from tests.hostile.conftest import ADMIN, TWILIO_TOKEN, WEBHOOK_SECRET
from tests.support.server import ParleyServer

COMPANY, CUSTOMER = "+15551230001", "+15557654321"


@pytest.fixture
def client(pg_server: ParleyServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pg_server.url, timeout=30) as http:
        yield http


def post_generic(client: httpx.Client, body: str) -> httpx.Response:
    """``body`` signed and sent as written (a lone surrogate is valid JSON; httpx would not encode it)."""
    raw = body.encode()
    headers = {
        "content-type": "application/json",
        "X-Parley-Signature": f"sha256={generic_signature(WEBHOOK_SECRET, raw)}",
    }
    return client.post("/api/v2/webhooks/inbound", content=raw, headers=headers)


def generic(sid: str, text: str = '"Hello"', **extra: str) -> str:
    fields = {"from": f'"{CUSTOMER}"', "to": f'"{COMPANY}"', "id": sid, "text": text, **extra}
    return "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"


def post_twilio(client: httpx.Client, pg_server: ParleyServer, form: dict[str, str]) -> httpx.Response:
    url = f"{pg_server.url}/api/v2/webhooks/twilio"
    signature = twilio_signature(url, form, TWILIO_TOKEN)
    return client.post("/api/v2/webhooks/twilio", data=form, headers={"X-Twilio-Signature": signature})


def twilio(sid: str, **extra: str) -> dict[str, str]:
    return {"From": CUSTOMER, "To": COMPANY, "Body": "Hi", "MessageSid": sid, "NumMedia": "0", **extra}


def stored(pg_server: ParleyServer, message_id: str) -> dict[str, Any]:
    with httpx.Client(base_url=pg_server.url, auth=ADMIN) as http:
        response = http.get(f"/api/v2/messages/{message_id}")
    assert response.status_code == 200
    return dict(response.json())


@pytest.mark.parametrize(
    "sid",
    [
        pytest.param('"nul\\u0000id"', id="nul"),
        pytest.param('"surrogate\\ud800id"', id="lone-surrogate"),
        pytest.param('"' + "x" * 300 + '"', id="longer-than-the-column"),
    ],
)
def test_a_carrier_id_that_cannot_be_a_key_is_stored_and_a_redelivery_stored_once(
    client: httpx.Client, pg_server: ParleyServer, sid: str
) -> None:
    first = post_generic(client, generic(sid, '"once"'))
    again = post_generic(client, generic(sid, '"once"'))
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["id"] == again.json()["id"]
    assert stored(pg_server, first.json()["id"])["body"] == "once"


@pytest.mark.parametrize("year", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_received_at_out_of_range_is_set_aside_and_the_message_stored(
    client: httpx.Client, pg_server: ParleyServer, year: str
) -> None:
    response = post_generic(client, generic(f'"dated-{year}"', received_at=f'"{year}"'))
    assert response.status_code == 202
    message = stored(pg_server, response.json()["id"])
    assert message["created_at"][:4] not in ("0001", "9999")
    assert message["error"].startswith(f'received_at "{year}" was set aside')


def test_a_text_over_the_limit_is_refused_with_413_and_a_reason(client: httpx.Client) -> None:
    response = post_generic(client, generic('"long"', '"' + "a" * 1601 + '"'))
    assert response.status_code == 413
    assert response.json()["error"] == {"field": "text", "reason": "is longer than 1,600 characters (1,601)"}
    assert post_generic(client, generic('"just-right"', '"' + "a" * 1600 + '"')).status_code == 202


def test_a_body_nested_past_the_parser_is_refused(client: httpx.Client) -> None:
    assert post_generic(client, "[" * 100_000 + "]" * 100_000).status_code == 400


@pytest.mark.parametrize("count", ["²", "¹", "٣", "99999999999999999999", "11"])
def test_a_twilio_num_media_that_is_no_plain_number_is_refused_naming_it(
    client: httpx.Client, pg_server: ParleyServer, count: str
) -> None:
    response = post_twilio(client, pg_server, twilio("SMmedia", NumMedia=count))
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "NumMedia"


def test_a_twilio_sid_with_a_nul_is_stored(client: httpx.Client, pg_server: ParleyServer) -> None:
    response = post_twilio(client, pg_server, twilio("SM\x00nul"))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        pytest.param('"a\\u0000b"', "a", id="nul"),
        pytest.param('"a\\ud800b"', "a", id="lone-surrogate"),
    ],
)
def test_a_text_a_database_cannot_hold_is_stored_cleaned(
    client: httpx.Client, pg_server: ParleyServer, text: str, kept: str
) -> None:
    """Passes once `services/receive.py` cleans what it stores (another branch of issue 9)."""
    response = post_generic(client, generic(f'"text-{text[3:7]}"', text))
    assert response.status_code == 202
    body = stored(pg_server, response.json()["id"])["body"]
    assert body.startswith(kept) and "\x00" not in body
