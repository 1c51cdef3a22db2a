"""The console's API keys page through the real app (ASGI, in process): the secret once, own keys, revoke."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.app import ALICE, BOB, InProcess, console_client, in_process

SECRET = re.compile(r"psk_[A-Za-z0-9_\-]{43}")


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path) as running:
        yield running


async def test_a_user_creates_a_key_sees_its_secret_once_and_revokes_it(app: InProcess) -> None:
    async with console_client(app, BOB) as (console, csrf):
        page = await console.get("/api-keys")
        assert 'value="admin"' not in page.text  # not an administrator: no admin scope to choose
        created = await console.post(
            "/api-keys", data={"csrf": csrf, "name": "Bob's CRM", "scopes": ["send", "read"], "expires_at": ""}
        )
        assert created.status_code == 200, created.text
        assert created.headers["cache-control"] == "no-store"
        found = SECRET.search(created.text)
        assert found is not None
        secret = found.group(0)
        again = await console.get("/api-keys")
        assert secret not in again.text
        assert "Bob&#39;s CRM" in again.text and "send, read" in again.text and "never" in again.text
        async with app.client(address="10.0.0.5") as api:
            use = await api.get("/api/v2/messages", headers={"Authorization": f"Bearer {secret}"})
            assert use.status_code == 200
        key_id = re.search(r'data-key="(SK[0-9a-f]{32})"', again.text)
        assert key_id is not None
        revoked = await console.post(f"/api-keys/{key_id.group(1)}/revoke", data={"csrf": csrf})
        assert revoked.status_code == 303
        assert "revoked" in (await console.get(revoked.headers["location"])).text
        async with app.client(address="10.0.0.5") as api:
            use = await api.get("/api/v2/messages", headers={"Authorization": f"Bearer {secret}"})
            assert use.status_code == 401


async def test_a_users_wrong_key_is_refused_by_field(app: InProcess) -> None:
    async with console_client(app, BOB) as (console, csrf):
        answer = await console.post("/api-keys", data={"csrf": csrf, "name": "x", "scopes": ["admin"]})
        assert answer.status_code == 422
        assert "the admin scope is for administrators" in answer.text
        answer = await console.post("/api-keys", data={"csrf": csrf, "name": "x", "scopes": ["send"], "user": "101"})
        assert answer.status_code == 422  # a plain user's form has no user field: the refusal names it anyway
        assert "only administrators create keys for other users" in answer.text
        answer = await console.post("/api-keys", data={"csrf": csrf, "name": "x", "scopes": ["send"],
                                                        "expires_at": "31/12/2030"})  # fmt: skip
        assert "a date as YYYY-MM-DD" in answer.text


async def test_an_admin_sees_everyones_keys_and_makes_one_for_another_user(app: InProcess) -> None:
    async with console_client(app, BOB) as (bob, bob_csrf):
        await bob.post("/api-keys", data={"csrf": bob_csrf, "name": "bob-own", "scopes": ["read"]})
    async with console_client(app, ALICE) as (alice, csrf):
        made = await alice.post(
            "/api-keys",
            data={"csrf": csrf, "name": "for-bob", "scopes": ["send"], "user": "102", "expires_at": "2030-12-31"},
        )
        assert made.status_code == 200, made.text
        page = await alice.get("/api-keys")
    assert "bob-own" in page.text and "for-bob" in page.text
    assert "2030-12-31" in page.text
    async with console_client(app, BOB) as (bob, _):
        assert "for-bob" in (await bob.get("/api-keys")).text


async def test_a_user_cannot_revoke_someone_elses_key(app: InProcess) -> None:
    async with console_client(app, ALICE) as (alice, csrf):
        made = await alice.post("/api-keys", data={"csrf": csrf, "name": "alice-own", "scopes": ["read"]})
    key_id = re.search(r"<code>(SK[0-9a-f]{32})</code>", made.text)
    assert key_id is not None
    async with console_client(app, BOB) as (bob, bob_csrf):
        answer = await bob.post(f"/api-keys/{key_id.group(1)}/revoke", data={"csrf": bob_csrf})
        assert answer.status_code == 404
