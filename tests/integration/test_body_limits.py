"""Request body limits (issue 10): 413 with the limit and its setting, enforced while the body streams in —
before a webhook's signature is checked, and before a multipart upload is spooled whole."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse

from parley.ingress.limits import BodyLimits
from tests.support.app import ALICE, console_client, in_process
from tests.support.provisioning import document

MB = 1024 * 1024


def with_webhooks() -> dict[str, Any]:
    return document(webhooks={"secret": "a-shared-secret-of-32-characters"})


async def chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """A body without Content-Length (chunked): only counting can stop it."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b"x" * piece


class Endless:
    """An ASGI ``receive`` whose body never ends (1,000 bytes a message); ``pulled`` counts the messages taken."""

    def __init__(self) -> None:
        self.pulled = 0

    async def __call__(self) -> dict[str, Any]:
        self.pulled += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}


class Sent:
    """An ASGI ``send`` that keeps what it is given."""

    def __init__(self) -> None:
        self.messages: list[MutableMapping[str, Any]] = []

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        self.messages.append(message)


async def test_an_oversized_webhook_is_refused_before_its_signature_is_checked(tmp_path: Path) -> None:
    async with in_process(tmp_path, with_webhooks()) as app, app.client() as client:
        declared = await client.post("/api/v2/webhooks/inbound", content=b"{" + b" " * (2 * MB))
        assert declared.status_code == 413
        assert declared.json()["detail"] == (
            "The request body is larger than 1 MB, the limit here (the setting PARLEY_MAX_WEBHOOK_BYTES)."
        )
        streamed = await client.post("/api/v2/webhooks/inbound", content=chunks(2 * MB))
        assert streamed.status_code == 413
        small = await client.post("/api/v2/webhooks/inbound", content=b"{}")
        assert small.status_code == 403  # within the limit: on to the signature


async def test_an_oversized_json_request_is_refused(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app, app.client(ALICE) as alice:
        body = {"to": ["+15557654321"], "text": "x" * (2 * MB)}
        refused = await alice.post("/api/v2/messages", json=body)
        assert refused.status_code == 413
        assert "PARLEY_MAX_BODY_BYTES" in refused.json()["detail"]
        assert (await alice.get("/api/v2/messages")).json()["messages"] == []


async def test_csv_uploads_have_their_own_larger_limit_and_a_setting_changes_it(tmp_path: Path) -> None:
    note = b"n" * 700
    rows = b"number,note\n" + b"".join(b"+1555%07d,%s\n" % (i, note) for i in range(3000))  # over the JSON limit
    assert len(rows) > 2 * MB
    async with in_process(tmp_path) as app, app.client(ALICE) as alice:
        made = (await alice.post("/api/v2/lists", json={"name": "Big"})).json()
        loaded = await alice.post(f"/api/v2/lists/{made['id']}/upload", files={"file": ("big.csv", rows)})
        assert loaded.status_code == 200, loaded.text
    async with in_process(tmp_path / "small", max_upload_bytes=100_000) as app, app.client(ALICE) as alice:
        campaign = await alice.post("/api/v2/campaigns", json={"name": "C", "sender": "+15551230001", "message": "Hi"})
        refused = await alice.post(
            f"/api/v2/campaigns/{campaign.json()['id']}/recipients", files={"file": ("big.csv", rows)}
        )
        assert refused.status_code == 413
        assert "100,000 bytes" in refused.json()["detail"]
        assert (await alice.get(f"/api/v2/campaigns/{campaign.json()['id']}")).json()["counters"]["total"] == 0


async def test_a_console_upload_over_the_limit_is_refused_while_it_streams(tmp_path: Path) -> None:
    (tmp_path / "small").mkdir()
    async with in_process(tmp_path / "small", max_upload_bytes=100_000) as app:
        async with console_client(app, ALICE) as (alice, csrf):
            boundary = "b0undary"
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
                "Content-Type: text/csv\r\n\r\nnumber\n"
            ).encode()

            async def body() -> AsyncIterator[bytes]:
                yield head
                async for piece in chunks(MB):
                    yield piece

            refused = await alice.post(
                "/lists/1/upload", content=body(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
            )
        assert refused.status_code == 413
        assert refused.text.startswith("The request body is larger than 100,000 bytes")


async def test_the_middleware_stops_an_endless_body_just_past_the_limit() -> None:
    endless = Endless()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        try:
            await request.body()
        except Exception:
            await PlainTextResponse("the app's own error", status_code=400)(scope, receive, send)
            return
        await PlainTextResponse("read it all")(scope, receive, send)

    send = Sent()

    limited = BodyLimits(app, default=10_000, webhooks=10_000, uploads=10_000)
    scope = {"type": "http", "method": "POST", "path": "/api/v2/messages", "headers": [], "query_string": b""}
    await limited(scope, endless, send)
    assert endless.pulled == 11  # 11,000 bytes: one message past the limit, and no more
    assert [m.get("status") for m in send.messages if m["type"] == "http.response.start"] == [413]


async def test_a_declared_length_over_the_limit_is_refused_without_running_the_app() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not run")

    send = Sent()

    async def receive() -> dict[str, Any]:
        raise AssertionError("nothing is read")

    limited = BodyLimits(app, default=10, webhooks=10, uploads=10)
    headers = [(b"content-length", b"11")]
    await limited({"type": "http", "path": "/inbox/new", "headers": headers}, receive, send)
    assert send.messages[0]["status"] == 413
    assert send.messages[1]["body"].startswith(b"The request body is larger than 10 bytes")


async def test_a_declared_length_within_the_limit_does_not_stop_counting_a_chunked_body() -> None:
    """Only a Content-Length without Transfer-Encoding frames the body (RFC 9112 §6.3): the uncounted way is
    for those alone."""
    endless = Endless()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await Request(scope, receive).body()

    send = Sent()

    limited = BodyLimits(app, default=10_000, webhooks=10_000, uploads=10_000)
    headers = [(b"content-length", b"10"), (b"transfer-encoding", b"chunked")]
    scope = {"type": "http", "method": "POST", "path": "/api/v2/messages", "headers": headers, "query_string": b""}
    await limited(scope, endless, send)
    assert endless.pulled == 11
    assert [m.get("status") for m in send.messages if m["type"] == "http.response.start"] == [413]
