"""What an attacker's requests get, through the real application (ASGI, in process) on SQLite and PostgreSQL.

Each client below comes from an address of its own (`client=`): the throttle counts per (extension, address)
and per address.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from parley.bootstrap import Parley, build
from parley.settings import Settings
from parley.store.db import Database
from tests.conftest import Clock
from tests.support.app import client
from tests.support.console_http import sign_in
from tests.support.provisioning import provision

ALICE, BOB = ("101", "sms101api"), ("102", "bob-secret")
WRONG = {"type": "error", "reason": "Wrong credentials", "result": None}
SMS = {"number": "+15551234567", "message": "Hello"}


@pytest.fixture
async def parley(db: Database, db_url: str, clock: Clock) -> AsyncIterator[Parley]:
    await provision(db, clock())
    app = build(Settings(database_url=db_url, smtp=""))
    try:
        yield app
    finally:
        await app.close()


async def test_wrong_basic_passwords_on_the_wildix_api_are_throttled(parley: Parley) -> None:
    async with client(parley, "192.0.2.1") as attacker:
        for _ in range(3):
            answer = await attacker.post("/api/v1/originate/sms", data=SMS, auth=(ALICE[0], "guess"))
            assert (answer.status_code, answer.json()) == (401, WRONG)
        # The right password too is refused inside the wait, in the contract's own words.
        answer = await attacker.post("/api/v1/originate/sms", data=SMS, auth=ALICE)
        assert (answer.status_code, answer.json()) == (401, WRONG)
        assert int(answer.headers["retry-after"]) > 0
    async with client(parley, "10.0.0.1") as alice:  # Alice's own PBX is not held back
        answer = await alice.post("/api/v1/originate/sms", data=SMS, auth=ALICE)
        assert answer.json() == {"type": "result", "result": "Success"}


async def test_wrong_basic_passwords_on_api_v2_get_429_with_retry_after(parley: Parley) -> None:
    async with client(parley, "192.0.2.1") as attacker:
        for _ in range(3):
            assert (await attacker.get("/api/v2/messages", auth=(BOB[0], "guess"))).status_code == 401
        answer = await attacker.get("/api/v2/messages", auth=BOB)
        assert answer.status_code == 429
        assert int(answer.headers["retry-after"]) > 0
    async with client(parley, "10.0.0.2") as bob:
        assert (await bob.get("/api/v2/messages", auth=BOB)).status_code == 200


async def test_an_overlong_extension_is_refused_as_wrong_credentials(parley: Parley) -> None:
    long = "1" * 250
    async with client(parley) as http:
        answer = await http.post("/api/v1/originate/sms", data=SMS, auth=(long, "x"))
        assert (answer.status_code, answer.json()) == (401, WRONG)
        assert (await http.get("/api/v2/messages", auth=(long, "x"))).status_code == 401
        form = (await http.get("/login")).text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token is not None
        answer = await http.post("/login", data={"extension": long, "password": "x", "csrf": token.group(1)})
        assert answer.status_code == 401
        assert "wrong extension or password" in answer.text


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({"Sec-Fetch-Site": "cross-site"}, 403, id="fetch-metadata-cross-site"),
        pytest.param({"Origin": "https://evil.example"}, 403, id="origin-of-another-site"),
        pytest.param({"Origin": "null"}, 403, id="opaque-origin"),
        pytest.param({"Sec-Fetch-Site": "same-origin", "Origin": "http://parley.test"}, 200, id="same-origin"),
        pytest.param({"Sec-Fetch-Site": "none"}, 200, id="typed-in-the-address-bar"),
        pytest.param({}, 200, id="a-script-or-pbx"),
    ],
)
async def test_a_cross_site_get_cannot_send_with_cached_credentials(
    parley: Parley, headers: dict[str, str], status: int
) -> None:
    async with client(parley) as browser:
        answer = await browser.get("/api/v1/originate/sms", params=SMS, auth=ALICE, headers=headers)
    assert answer.status_code == status
    if status == 403:
        assert answer.json() == {"type": "error", "reason": "Requests from other sites are refused", "result": None}
    else:
        assert answer.json() == {"type": "result", "result": "Success"}


async def test_a_non_ascii_csrf_token_is_refused_not_an_error(parley: Parley) -> None:
    async with client(parley) as http:
        await http.get("/login")
        answer = await http.post("/login", data={"extension": ALICE[0], "password": ALICE[1], "csrf": "é"})
        assert answer.status_code == 403
        await sign_in(http, ALICE)
        answer = await http.post("/logout", headers={"X-CSRF-Token": "é".encode("latin-1")})  # type: ignore[dict-item]
        assert answer.status_code == 403
        answer = await http.post("/logout", data={"csrf": "€"})
        assert answer.status_code == 403


async def test_a_new_password_ends_the_users_other_console_sessions(parley: Parley) -> None:
    async with (
        client(parley, "10.0.0.1") as admin,
        client(parley, "10.0.0.2") as admin_elsewhere,
        client(parley, "10.0.0.3") as bob,
    ):
        csrf = await sign_in(admin, ALICE)
        await sign_in(admin_elsewhere, ALICE)
        await sign_in(bob, BOB)
        user = {"name": "Bob Jones", "license": "essential", "role": "user", "sms_package": "200"}
        answer = await admin.post("/admin/users/102", data={**user, "password": "bob-new-secret", "csrf": csrf})
        assert answer.status_code in (200, 303), answer.text
        assert (await bob.get("/inbox")).status_code == 303  # back to sign-in
        assert (await admin_elsewhere.get("/inbox")).status_code == 200  # Alice's sessions are not Bob's
        alice = {"name": "Alice Smith", "license": "business", "role": "admin", "office_number": "+15551230001"}
        answer = await admin.post("/admin/users/101", data={**alice, "password": "alice-new-secret", "csrf": csrf})
        assert answer.status_code in (200, 303), answer.text
        assert (await admin.get("/inbox")).status_code == 200  # the session that changed it stays
        assert (await admin_elsewhere.get("/inbox")).status_code == 303


async def test_wrong_console_passwords_from_one_address_do_not_lock_the_admin_out(parley: Parley) -> None:
    async with client(parley, "192.0.2.1") as attacker:
        for _ in range(4):
            form = (await attacker.get("/login")).text
            token = re.search(r'name="csrf" value="([^"]+)"', form)
            assert token is not None
            answer = await attacker.post(
                "/login", data={"extension": ALICE[0], "password": "x", "csrf": token.group(1)}
            )
            assert answer.status_code in (401, 429)
        assert answer.status_code == 429  # the attacker waits ...
    async with client(parley, "10.0.0.1") as admin:
        await sign_in(admin, ALICE)  # ... Alice, elsewhere, does not
