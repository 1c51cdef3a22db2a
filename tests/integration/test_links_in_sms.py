"""Links in SMS (issue 14 §4) through the native API, the console and the dispatcher."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from parley.core.provisioning import ProvisioningError, parse
from parley.store.tables import transports
from tests.support.app import ALICE, console_client, in_process
from tests.support.http_sink import HttpSink
from tests.support.provisioning import document
from tests.support.server import wait_until

PUBLIC = "https://sms.example.com"


def curl(url: str, **options: Any) -> dict[str, Any]:
    return {"name": "http", "role": "curl", "kind": "curl", **options,
            "command": f'curl "{url}/send?to={{TO_NUMBER}}&text={{MESSAGE}}"'}  # fmt: skip


async def test_a_transport_that_refuses_links_refuses_the_send_naming_the_text(tmp_path: Path) -> None:
    doc = document(transports=[curl("http://127.0.0.1:9", links="refuse")])
    async with in_process(tmp_path, doc, public_url=PUBLIC) as app, app.client(ALICE) as api:
        refused = await api.post("/api/v2/messages", json={"to": "+15551234567", "text": "Deal: www.shop.test/x"})
        assert refused.status_code == 422, refused.text
        assert "text" in refused.text and 'the transport \\"http\\" refuses links in SMS' in refused.text
        own = await api.post("/api/v2/messages", json={"to": "+15551234567", "text": f"Answer: {PUBLIC}/r/Ab3x"})
        assert own.status_code == 201, own.text
        assert own.json()["warnings"] == []


async def test_a_transport_that_warns_sends_and_says_so(tmp_path: Path) -> None:
    doc = document(transports=[curl("http://127.0.0.1:9", links="warn")])
    async with in_process(tmp_path, doc) as app, app.client(ALICE) as api:
        sent = await api.post("/api/v2/messages", json={"to": ["+15551234567", "+15551234568"],
                                                         "text": "See https://acme.com/offer"})  # fmt: skip
        assert sent.status_code == 201, sent.text
        assert len(sent.json()["messages"]) == 2
        assert sent.json()["warnings"] == [
            'the message has a link (https://acme.com/offer); the transport "http" warns that links may be filtered'
        ]


async def test_the_dispatcher_refuses_a_link_when_the_transport_came_to_refuse_them(tmp_path: Path) -> None:
    async with HttpSink() as sink:
        doc = document(transports=[curl(sink.url)])
        async with in_process(tmp_path, doc) as app, app.client(ALICE) as api:
            sent = await api.post("/api/v2/messages", json={"to": "+15551234567", "text": "See acme.com"})
            assert sent.status_code == 201, sent.text
            message_id = sent.json()["messages"][0]["id"]
            async with app.parley.db.write() as conn:  # changed while the message waited
                config = curl(sink.url, links="refuse")
                await conn.execute(transports.update().values(config={"command": config["command"], "links": "refuse"}))
            await app.parley.transports.start()
            assert await app.parley.dispatcher.claim_and_send() == 1

            async def failed() -> Any:
                body = (await api.get(f"/api/v2/messages/{message_id}")).json()
                return body if body["status"] == "failed" else None

            body = await wait_until(failed)
            assert body["error"] == 'the message has a link (acme.com), and the transport "http" refuses links in SMS'
            assert sink.requests == []


async def test_the_composer_counter_shows_what_the_transport_does_with_links(tmp_path: Path) -> None:
    doc = document(transports=[curl("http://127.0.0.1:9", links="refuse")])
    async with in_process(tmp_path, doc) as app, console_client(app, ALICE) as (alice, _):
        hint = await alice.get("/compose/count", params={"text": "Go to www.acme.com now"})
        assert 'data-links="refuse"' in hint.text and "Will be refused" in hint.text
        plain = await alice.get("/compose/count", params={"text": "No link here."})
        assert "data-links" not in plain.text
        inbox = await alice.get("/inbox/count", params={"text": "bit.ly/abc", "from": "+15551230001"})
        assert 'data-links="refuse"' in inbox.text


async def test_an_admin_sets_links_on_a_transport_in_the_console(tmp_path: Path) -> None:
    async with in_process(tmp_path, document()) as app, console_client(app, ALICE) as (alice, csrf):
        form = await alice.get("/admin/transports/new?kind=curl")
        assert 'name="links"' in form.text
        data = {"csrf": csrf, "kind": "curl", "name": "http", "role": "curl", "links": "warn",
                "command": 'curl "http://127.0.0.1:9/send?to={TO_NUMBER}&text={MESSAGE}"'}  # fmt: skip
        bad = await alice.post("/admin/transports/new", data={**data, "links": "sometimes"})
        assert bad.status_code == 422 and "is not one of allow, warn, refuse" in bad.text
        added = await alice.post("/admin/transports/new", data=data)
        assert added.status_code == 303, added.text
        async with app.parley.db.read() as conn:
            config = (await conn.execute(sa.select(transports.c.config))).scalar_one()
        assert config["links"] == "warn"
        page = await alice.get("/admin/transports/http")
        assert '<option value="warn" selected>' in page.text


@pytest.mark.parametrize(
    ("transport", "problem"),
    [
        pytest.param(curl("http://x", links="sometimes"), 'transports[0].links: "sometimes" is not one of allow, '
                     "warn, refuse", id="links"),
        pytest.param({"name": "tw", "role": "carrier", "kind": "twilio", "account_sid": "AC" + "1" * 32,
                      "auth_token": "t", "assume_delivered": True},
                     "transports[0].assume_delivered: a twilio account reports deliveries itself; only curl or SMPP "
                     "may assume", id="assume-on-twilio"),
        pytest.param(curl("http://x", assume_delivered="yes"), "transports[0].assume_delivered: must be true or false",
                     id="assume-not-bool"),
    ],
)  # fmt: skip
def test_bad_transport_settings_are_named_by_field(transport: dict[str, Any], problem: str) -> None:
    with pytest.raises(ProvisioningError) as caught:
        parse(document(transports=[transport]))
    assert problem in caught.value.problems


async def test_a_reply_link_goes_through_a_transport_that_refuses_links(tmp_path: Path) -> None:
    async with HttpSink() as sink:
        doc = document(transports=[curl(sink.url, links="refuse")])
        async with in_process(tmp_path, doc, public_url=PUBLIC) as app, app.client(ALICE) as api:
            sent = await api.post("/api/v2/messages", json={"to": "+15551234567", "text": "Answer: {reply_link}"})
            assert sent.status_code == 201, sent.text
            [message] = sent.json()["messages"]
            assert message["body"].startswith(f"Answer: {PUBLIC}/r/")
            await app.parley.transports.start()
            assert await app.parley.dispatcher.claim_and_send() == 1

            async def settled() -> Any:
                body = (await api.get(f"/api/v2/messages/{message['id']}")).json()
                return body if body["status"] != "queued" and body["status"] != "sending" else None

            assert (await wait_until(settled))["status"] == "sent"
            assert len(sink.requests) == 1
