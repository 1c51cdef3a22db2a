"""API keys against a real `parley serve` (issue 13 §2): a key's event stream ends when the key is revoked, and
no key secret reaches the log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.provisioning import document
from tests.support.server import ParleyServer

ALICE = ("101", "sms101api")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ParleyServer]:
    parley = ParleyServer(tmp_path, extra_env={"PARLEY_LOG_LEVEL": "debug"})
    parley.apply(document())
    await parley.start("--no-workers")
    try:
        yield parley
    finally:
        await parley.close()


async def new_key(server: ParleyServer, scopes: list[str]) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as alice:
        answer = await alice.post("/api/v2/api-keys", json={"name": "stream", "scopes": scopes})
    assert answer.status_code == 201, answer.text
    created: dict[str, str] = answer.json()
    return created


async def test_a_keys_event_stream_ends_when_the_key_is_revoked(server: ParleyServer) -> None:
    key = await new_key(server, ["read"])
    headers = {"Authorization": f"Bearer {key['secret']}"}
    timeout = httpx.Timeout(10, read=None)
    async with (
        httpx.AsyncClient(base_url=server.url, headers=headers, timeout=timeout) as http,
        http.stream("GET", "/api/v2/events") as stream,
    ):
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        assert (await anext(lines)).startswith(": connected")
        async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as alice:
            assert (await alice.delete(f"/api/v2/api-keys/{key['id']}")).status_code == 204
        async with asyncio.timeout(20):
            async for _ in lines:
                pass  # the server ends the stream within its re-check period


async def test_no_key_secret_reaches_the_log(server: ParleyServer) -> None:
    key = await new_key(server, ["send", "read"])
    wrong = "psk_" + "W" * 43
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/api/v2/messages", headers={"Authorization": f"Bearer {key['secret']}"})).is_success
        assert (await http.get("/api/v2/messages", auth=(key["id"], key["secret"]))).is_success
        assert (await http.get("/api/v2/messages", headers={"Authorization": f"Bearer {wrong}"})).status_code == 401
        assert (await http.get("/api/v2/messages", auth=(key["id"], wrong))).status_code == 401
        refused = await http.post("/api/v2/messages", json={"to": ["+15551234567"], "text": key["secret"]},
                                  headers={"Authorization": f"Bearer {key['secret']}"})  # fmt: skip
        assert refused.is_success
    await server.close()
    log = server.log.read_text()
    assert "executing" in log  # debug lines were written (the database driver's, among others) ...
    for secret in (key["secret"], wrong):
        assert secret not in log  # ... and not one secret with them
