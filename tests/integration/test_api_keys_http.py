"""API keys through the real application (ASGI, in process) on SQLite and PostgreSQL (issue 13 §2).

Each client comes from an address of its own: the throttle counts per (subject, address) and per address.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request

from parley.bootstrap import Parley, build
from parley.ingress.api_auth import KeyScopeMissing, key_caller
from parley.services.secret_box import SecretBox
from parley.settings import Settings
from parley.store.db import Database
from parley.store.tables import api_keys
from tests.conftest import Clock
from tests.support.app import client
from tests.support.provisioning import BASE, provision

ALICE, BOB = ("101", "sms101api"), ("102", "bob-secret")  # Alice is an admin, Bob is not
CUSTOMER = "+15551234567"
SECRET = re.compile(r"psk_[A-Za-z0-9_\-]{43}")
# Bob sends too, from an office number of his own.
USERS = [{**u, "office_number": "+15551230002"} if u["extension"] == "102" else u for u in BASE["users"]]


@pytest.fixture
async def parley(db: Database, db_url: str, clock: Clock) -> AsyncIterator[Parley]:
    await provision(db, clock(), users=USERS)
    app = build(Settings(database_url=db_url, smtp="", secret="installation-secret"), clock=clock)
    try:
        yield app
    finally:
        await app.close()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def new_key(parley: Parley, who: tuple[str, str] = ALICE, **body: Any) -> dict[str, Any]:
    async with client(parley, "10.0.0.9", auth=who) as http:
        answer = await http.post("/api/v2/api-keys", json={"name": "CRM", "scopes": ["send", "read"], **body})
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def test_a_new_key_is_answered_once_with_its_secret(parley: Parley) -> None:
    created = await new_key(parley, expires_at="2027-01-31T00:00:00Z")
    assert set(created) == {"id", "secret", "name", "scopes", "expires_at", "account_sid", "user", "created_at",
                            "created_by"}  # fmt: skip
    assert re.fullmatch(r"SK[0-9a-f]{32}", created["id"])
    assert re.fullmatch(r"AC[0-9a-f]{32}", created["account_sid"])
    assert SECRET.fullmatch(created["secret"])
    assert (created["name"], created["scopes"], created["user"]) == ("CRM", ["send", "read"], "101")
    assert created["expires_at"] == "2027-01-31T00:00:00Z"
    async with client(parley, auth=ALICE) as alice:
        listed = await alice.get("/api/v2/api-keys")
        one = await alice.get(f"/api/v2/api-keys/{created['id']}")
    assert created["secret"] not in listed.text and created["secret"] not in one.text
    assert "secret" not in one.json()
    assert [k["id"] for k in listed.json()] == [created["id"]]
    assert listed.json()[0]["last_used_at"] is None
    assert one.json()["account_sid"] == created["account_sid"]  # one account SID for the installation


async def test_the_secret_is_stored_as_its_hash_and_sealed_never_as_itself(parley: Parley, db: Database) -> None:
    created = await new_key(parley)
    async with db.read() as conn:
        row = (await conn.execute(sa.select(api_keys))).one()
    assert created["secret"] not in str(tuple(row))
    assert row.secret_hash == hashlib.sha256(created["secret"].encode()).hexdigest()
    assert await parley.api_keys.signing_secret(created["id"]) == created["secret"]  # recoverable to sign


async def test_a_bearer_key_sends_and_reads_as_its_user(parley: Parley) -> None:
    created = await new_key(parley)
    async with client(parley, headers=bearer(created["secret"])) as http:
        sent = await http.post("/api/v2/messages", json={"to": CUSTOMER, "text": "From the CRM"})
        assert sent.status_code == 201, sent.text
        assert sent.json()["messages"][0]["user"] == "101"
        listed = await http.get("/api/v2/messages")
    assert listed.status_code == 200
    assert [m["body"] for m in listed.json()["messages"]] == ["From the CRM"]


async def test_twilio_style_basic_credentials_work_too(parley: Parley) -> None:
    created = await new_key(parley)
    async with client(parley, auth=(created["id"], created["secret"])) as http:
        assert (await http.get("/api/v2/messages")).status_code == 200
    async with client(parley, auth=(created["id"], created["secret"] + "x")) as http:
        assert (await http.get("/api/v2/messages")).status_code == 401


async def test_a_route_needing_a_scope_the_key_lacks_answers_403_naming_it(parley: Parley) -> None:
    created = await new_key(parley, scopes=["read"])
    async with client(parley, headers=bearer(created["secret"])) as http:
        refused = await http.post("/api/v2/messages", json={"to": CUSTOMER, "text": "Hi"})
        assert refused.status_code == 403
        assert "'send' scope" in refused.json()["detail"]
        assert (await http.get("/api/v2/conversations")).json()[
            "detail"
        ] == "this API key lacks the 'conversations' scope"
        assert (await http.get("/api/v2/messages")).status_code == 200


async def test_an_admins_key_without_the_admin_scope_acts_as_a_plain_user(parley: Parley) -> None:
    async with client(parley, auth=BOB) as bob:
        assert (await bob.post("/api/v2/messages", json={"to": CUSTOMER, "text": "Bob's"})).status_code == 201
    narrow = await new_key(parley, scopes=["read"])
    wide = await new_key(parley, scopes=["read", "admin"])
    async with client(parley, headers=bearer(narrow["secret"])) as http:
        assert (await http.get("/api/v2/messages")).json()["messages"] == []  # not everyone's
        assert (await http.get("/api/v2/transports")).status_code == 403
    async with client(parley, headers=bearer(wide["secret"])) as http:
        assert [m["body"] for m in (await http.get("/api/v2/messages")).json()["messages"]] == ["Bob's"]
        assert (await http.get("/api/v2/transports")).status_code == 200


async def test_an_admin_creates_a_key_for_another_user(parley: Parley) -> None:
    created = await new_key(parley, user="102", scopes=["send"])
    assert (created["user"], created["created_by"]) == ("102", "101")
    async with client(parley, headers=bearer(created["secret"])) as http:
        sent = await http.post("/api/v2/messages", json={"to": CUSTOMER, "text": "As Bob"})
    assert sent.json()["messages"][0]["user"] == "102"
    async with client(parley, auth=BOB) as bob:  # Bob sees and may revoke the key made for him
        assert [k["id"] for k in (await bob.get("/api/v2/api-keys")).json()] == [created["id"]]
        assert (await bob.delete(f"/api/v2/api-keys/{created['id']}")).status_code == 204


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        pytest.param({"user": "101"}, 403, "user", id="for-someone-else"),
        pytest.param({"scopes": ["send", "admin"]}, 422, "scopes", id="admin-scope"),
        pytest.param({"scopes": []}, 422, "scopes", id="no-scope"),
        pytest.param({"scopes": ["write"]}, 422, "scopes", id="unknown-scope"),
        pytest.param({"name": "  "}, 422, "name", id="blank-name"),
        pytest.param({"expires_at": "2020-01-01T00:00:00Z"}, 422, "expires_at", id="expired-already"),
        pytest.param({"expires_at": "2027-01-01T00:00:00"}, 422, "expires_at", id="no-time-zone"),
    ],
)
async def test_a_plain_user_makes_keys_for_himself_within_his_rights(
    parley: Parley, body: dict[str, Any], status: int, field: str
) -> None:
    async with client(parley, auth=BOB) as bob:
        answer = await bob.post("/api/v2/api-keys", json={"name": "mine", "scopes": ["send"], **body})
    assert answer.status_code == status, answer.text
    assert field in answer.text


async def test_an_admin_names_an_unknown_user(parley: Parley) -> None:
    async with client(parley, auth=ALICE) as alice:
        answer = await alice.post("/api/v2/api-keys", json={"name": "x", "scopes": ["send"], "user": "999"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "user"]


async def test_users_see_and_revoke_only_their_own_keys(parley: Parley) -> None:
    alices = await new_key(parley)
    bobs = await new_key(parley, BOB)
    async with client(parley, auth=BOB) as bob:
        assert [k["id"] for k in (await bob.get("/api/v2/api-keys")).json()] == [bobs["id"]]
        assert (await bob.get(f"/api/v2/api-keys/{alices['id']}")).status_code == 404
        assert (await bob.delete(f"/api/v2/api-keys/{alices['id']}")).status_code == 404
    async with client(parley, auth=ALICE) as alice:
        assert {k["id"] for k in (await alice.get("/api/v2/api-keys")).json()} == {alices["id"], bobs["id"]}


async def test_revocation_is_seen_at_once_by_another_process(parley: Parley, db_url: str, clock: Clock) -> None:
    created = await new_key(parley)
    other = build(Settings(database_url=db_url, smtp="", secret="installation-secret"), clock=clock)
    try:
        async with client(other, headers=bearer(created["secret"])) as elsewhere:
            assert (await elsewhere.get("/api/v2/messages")).status_code == 200
            async with client(parley, auth=ALICE) as alice:
                assert (await alice.delete(f"/api/v2/api-keys/{created['id']}")).status_code == 204
            assert (await elsewhere.get("/api/v2/messages")).status_code == 401
    finally:
        await other.close()


async def test_an_expired_key_is_refused(parley: Parley, clock: Clock) -> None:
    created = await new_key(parley, expires_at=(clock() + timedelta(hours=1)).isoformat())
    async with client(parley, headers=bearer(created["secret"])) as http:
        assert (await http.get("/api/v2/messages")).status_code == 200
        clock.advance(hours=1)
        refused = await http.get("/api/v2/messages")
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]


async def test_the_last_use_is_written_at_most_once_a_minute(parley: Parley, clock: Clock) -> None:
    created = await new_key(parley)

    async def last_used() -> str | None:
        async with client(parley, auth=ALICE) as alice:
            found: str | None = (await alice.get(f"/api/v2/api-keys/{created['id']}")).json()["last_used_at"]
            return found

    async with client(parley, headers=bearer(created["secret"])) as http:
        await http.get("/api/v2/messages")
        first = await last_used()
        assert first is not None
        clock.advance(seconds=30)
        await http.get("/api/v2/messages")
        assert await last_used() == first
        clock.advance(seconds=31)
        parley.api_keys._touched.clear()  # as if another process served it: only the row holds the write back
        await http.get("/api/v2/messages")
        assert await last_used() != first


async def test_wrong_bearer_secrets_are_throttled_like_passwords(parley: Parley) -> None:
    created = await new_key(parley)
    async with client(parley, "192.0.2.1") as attacker:
        for guess in ("psk_" + "a" * 43, "psk_" + "b" * 43, "not-even-a-secret"):
            assert (await attacker.get("/api/v2/messages", headers=bearer(guess))).status_code == 401
        refused = await attacker.get("/api/v2/messages", headers=bearer(created["secret"]))
        assert refused.status_code == 429  # the right one too, inside the wait
        assert int(refused.headers["retry-after"]) > 0
    async with client(parley, "10.0.0.2", headers=bearer(created["secret"])) as crm:  # not held back
        assert (await crm.get("/api/v2/messages")).status_code == 200


async def test_wrong_secrets_for_a_key_sid_are_throttled(parley: Parley) -> None:
    created = await new_key(parley)
    async with client(parley, "192.0.2.2") as attacker:
        for _ in range(3):
            answer = await attacker.get("/api/v2/messages", auth=(created["id"], "guess"))
            assert answer.status_code == 401
        answer = await attacker.get("/api/v2/messages", auth=(created["id"], created["secret"]))
        assert answer.status_code == 429


async def test_the_wildix_api_takes_only_a_users_password(parley: Parley) -> None:
    created = await new_key(parley)
    sms = {"number": CUSTOMER, "message": "Hello"}
    async with client(parley) as http:
        as_sid = await http.post("/api/v1/originate/sms", data=sms, auth=(created["id"], created["secret"]))
        as_bearer = await http.post("/api/v1/originate/sms", data=sms, headers=bearer(created["secret"]))
    assert as_sid.status_code == 401 and as_bearer.status_code == 401


async def test_a_revoked_keys_long_lived_request_ends(parley: Parley) -> None:
    created = await new_key(parley)
    async with client(parley, headers=bearer(created["secret"])) as http:
        assert (await http.get("/api/v2/messages")).status_code == 200
    caller = await parley.api_keys.by_secret(created["secret"], "10.0.0.1")
    assert caller is not None and await parley.api_keys.still_valid(caller)
    async with client(parley, auth=ALICE) as alice:
        await alice.delete(f"/api/v2/api-keys/{created['id']}")
    assert not await parley.api_keys.still_valid(caller)


async def test_a_sealed_secret_cannot_be_opened_under_another_installation_secret(
    parley: Parley, db_url: str, clock: Clock
) -> None:
    created = await new_key(parley)
    other = build(Settings(database_url=db_url, smtp="", secret="another-secret"), clock=clock)
    try:
        assert await other.api_keys.signing_secret(created["id"]) is None
        async with client(other, headers=bearer(created["secret"])) as http:  # verifying needs only the hash
            assert (await http.get("/api/v2/messages")).status_code == 200
    finally:
        await other.close()


async def test_key_caller_serves_apis_that_take_only_keys(parley: Parley) -> None:
    """`api_auth.key_caller`, for the Twilio-compatible API: a key by Bearer or Basic SK…, its scope checked."""
    created = await new_key(parley, scopes=["read"])
    app = FastAPI()
    app.state.parley = parley  # what api_auth reads the keys from (app_state.py)

    @app.get("/probe/{scope}")
    async def probe(scope: str, request: Request) -> dict[str, str | None]:
        try:
            caller = await key_caller(request, scope)
        except KeyScopeMissing as exc:
            return {"missing": exc.scope}
        return {"key": caller.key_id if caller else None, "user": caller.user.extension if caller else None}

    transport = httpx.ASGITransport(app=app, client=("10.0.0.3", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
        assert (await http.get("/probe/read", auth=(created["id"], created["secret"]))).json() == {
            "key": created["id"], "user": "101"}  # fmt: skip
        assert (await http.get("/probe/read", headers=bearer(created["secret"]))).json()["key"] == created["id"]
        assert (await http.get("/probe/send", headers=bearer(created["secret"]))).json() == {"missing": "send"}
        assert (await http.get("/probe/read", auth=ALICE)).json() == {"key": None, "user": None}  # no password
        assert (await http.get("/probe/read", headers=bearer("psk_" + "x" * 43))).json()["key"] is None


async def test_without_an_installation_secret_the_stored_key_is_shared_by_every_process(db: Database) -> None:
    sealed = await SecretBox(db).seal("psk_shared", "SK1")
    assert await SecretBox(db).open(sealed, "SK1") == "psk_shared"  # another process: the key from `settings`
    assert await SecretBox(db, "now-set").open(sealed, "SK1") is None
