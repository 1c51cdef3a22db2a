"""The real `twilio` package from PyPI against a real `parley serve` (issue 13 §3): code written for Twilio works
by changing only the base URL and the credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.support.provisioning import document
from tests.support.server import ParleyServer

ALICE = ("101", "sms101api")
OFFICE, CUSTOMER = "+15551230001", "+15557654321"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ParleyServer]:
    parley = ParleyServer(tmp_path)
    parley.apply(document())
    await parley.start("--no-workers")  # no dispatcher: a sent message stays queued, a scheduled one scheduled
    try:
        yield parley
    finally:
        await parley.close()


async def new_key(server: ParleyServer, scopes: list[str]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as alice:
        answer = await alice.post("/api/v2/api-keys", json={"name": "twilio script", "scopes": scopes})
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def twilio_client(server: ParleyServer, key: dict[str, Any], secret: str | None = None) -> Client:
    client = Client(key["id"], secret or key["secret"], key["account_sid"])
    client.api.base_url = server.url  # the one change a Twilio script needs, with the credentials
    return client


async def test_a_twilio_script_sends_lists_fetches_cancels_and_deletes(server: ParleyServer) -> None:
    client = twilio_client(server, await new_key(server, ["send", "read"]))
    sent = [client.messages.create(to=CUSTOMER, from_=OFFICE, body=f"Hello {n}") for n in range(5)]
    assert [m.status for m in sent] == ["queued"] * 5
    assert sent[0].sid.startswith("SM") and len(sent[0].sid) == 34
    assert (sent[0].to, sent[0].from_, sent[0].body, sent[0].num_segments) == (CUSTOMER, OFFICE, "Hello 0", "1")
    assert isinstance(sent[0].date_created, datetime) and sent[0].direction == "outbound-api"

    listed = client.messages.list(page_size=2)  # three pages, followed by the client itself
    assert [m.sid for m in listed] == [m.sid for m in reversed(sent)]
    assert [m.sid for m in client.messages.list(to=CUSTOMER, limit=3)] == [m.sid for m in reversed(sent)][:3]
    today = datetime.now(UTC).date()
    assert len(client.messages.list(date_sent_after=datetime.combine(today, datetime.min.time()))) == 5
    assert client.messages.list(from_="+15550000000") == []

    fetched = client.messages(sent[2].sid).fetch()
    assert (fetched.sid, fetched.body, fetched.status) == (sent[2].sid, "Hello 2", "queued")

    later = client.messages.create(
        to=CUSTOMER, from_=OFFICE, body="Tomorrow", schedule_type="fixed",
        send_at=datetime.now(UTC) + timedelta(days=1),
    )  # fmt: skip
    assert later.status == "scheduled"
    canceled = client.messages(later.sid).update(status="canceled")
    assert canceled.status == "canceled"
    assert client.messages(later.sid).delete() is True
    with pytest.raises(TwilioRestException) as gone:
        client.messages(later.sid).fetch()
    assert (gone.value.status, gone.value.code) == (404, 20404)


async def test_a_twilio_script_gets_twilios_error_codes(server: ParleyServer) -> None:
    key = await new_key(server, ["send", "read"])
    client = twilio_client(server, key)
    cases = [
        (lambda: client.messages.create(to="+1555", from_=OFFICE, body="x"), 400, 21211),
        (lambda: client.messages.create(to=CUSTOMER, from_=OFFICE, body=""), 400, 21602),
        (lambda: client.messages.create(to=CUSTOMER, from_="+15559999999", body="x"), 400, 21606),
        (lambda: client.messages.create(to=CUSTOMER, from_=OFFICE, body="x", schedule_type="fixed",
                                        send_at=datetime.now(UTC) + timedelta(seconds=30)), 400, 35114),
        (lambda: client.messages(client.messages.create(to=CUSTOMER, from_=OFFICE, body="now").sid)
         .update(status="canceled"), 400, 30409),
        (lambda: twilio_client(server, key, "psk_" + "W" * 43).messages.create(to=CUSTOMER, from_=OFFICE, body="x"),
         401, 20003),
        (lambda: client.messages("SM" + "0" * 32).fetch(), 404, 20404),
    ]  # fmt: skip
    for call, status, code in cases:
        with pytest.raises(TwilioRestException) as refused:
            call()
        assert (refused.value.status, refused.value.code) == (status, code), refused.value.msg


async def test_a_read_only_key_may_list_but_not_send(server: ParleyServer) -> None:
    client = twilio_client(server, await new_key(server, ["read"]))
    assert client.messages.list() == []
    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(to=CUSTOMER, from_=OFFICE, body="x")
    assert (refused.value.status, refused.value.code) == (403, 20403)
