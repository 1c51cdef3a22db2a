"""Console sessions on SQLite and PostgreSQL: tokens, expiry, sign-out, and throttled wrong passwords."""

from __future__ import annotations

from datetime import timedelta

import pytest

from parley.services.auth import Authenticator
from parley.services.directory import DirectoryCache
from parley.services.errors import ServiceError
from parley.services.sessions import IDLE_LIFETIME, Sessions, SignInRefused, wait_after
from parley.store.db import Database
from tests.conftest import Clock
from tests.support.provisioning import provision


@pytest.fixture
async def sessions(db: Database, clock: Clock) -> Sessions:
    await provision(db, clock())
    cache = DirectoryCache(db, country="US", timezone="UTC", ttl=0)
    return Sessions(db, cache, Authenticator(cache), clock)


async def test_a_session_resolves_to_its_user_until_signed_out(sessions: Sessions) -> None:
    session = await sessions.sign_in("102", "bob-secret", "10.0.0.1")
    found = await sessions.resolve(session.token)
    assert found is not None
    assert (found.user.extension, found.csrf) == ("102", session.csrf)
    await sessions.sign_out(session.token)
    assert await sessions.resolve(session.token) is None


async def test_two_sign_ins_get_different_tokens_and_csrf(sessions: Sessions) -> None:
    first = await sessions.sign_in("102", "bob-secret", "10.0.0.1")
    second = await sessions.sign_in("102", "bob-secret", "10.0.0.1")
    assert first.token != second.token
    assert first.csrf != second.csrf


async def test_an_unknown_or_empty_token_is_no_session(sessions: Sessions) -> None:
    assert await sessions.resolve(None) is None
    assert await sessions.resolve("") is None
    assert await sessions.resolve("not-a-token") is None


async def test_an_idle_session_expires_and_a_used_one_is_extended(sessions: Sessions, clock: Clock) -> None:
    idle = await sessions.sign_in("102", "bob-secret", "10.0.0.1")
    used = await sessions.sign_in("102", "bob-secret", "10.0.0.1")
    for _ in range(4):  # 4 × 4 h = 16 h > 12 h idle lifetime, but `used` is seen every 4 hours
        clock.advance(hours=4)
        assert await sessions.resolve(used.token) is not None
    assert await sessions.resolve(idle.token) is None


async def test_session_lasts_the_idle_lifetime_and_no_longer(sessions: Sessions, clock: Clock) -> None:
    session = await sessions.sign_in("102", "bob-secret", "10.0.0.1")
    clock.advance(seconds=IDLE_LIFETIME.total_seconds() - 1)
    assert await sessions.resolve(session.token) is not None  # seen: extended from here
    clock.advance(seconds=IDLE_LIFETIME.total_seconds() + 1)
    assert await sessions.resolve(session.token) is None


async def test_wrong_passwords_are_slowed_down_then_forgiven_after_the_wait(sessions: Sessions, clock: Clock) -> None:
    for _ in range(3):
        with pytest.raises(SignInRefused) as wrong:
            await sessions.sign_in("102", "nope", "10.0.0.1")
        assert wrong.value.status == 401
    with pytest.raises(SignInRefused) as throttled:
        await sessions.sign_in("102", "bob-secret", "10.0.0.1")  # right password, but inside the wait
    assert throttled.value.status == 429
    assert throttled.value.retry_after == 5
    clock.advance(seconds=5)
    assert (await sessions.sign_in("102", "bob-secret", "10.0.0.1")).user.extension == "102"


async def test_guessing_from_one_address_across_extensions_is_slowed_too(sessions: Sessions) -> None:
    for extension in ("101", "102", "103"):
        with pytest.raises(SignInRefused):
            await sessions.sign_in(extension, "guess", "10.0.0.9")
    with pytest.raises(SignInRefused) as throttled:
        await sessions.sign_in("101", "sms101api", "10.0.0.9")
    assert throttled.value.retry_after > 0
    # Another address is not held back by this one.
    assert (await sessions.sign_in("101", "sms101api", "10.0.0.10")).user.extension == "101"


async def test_an_unknown_extension_counts_as_a_wrong_password(sessions: Sessions) -> None:
    with pytest.raises(SignInRefused) as refused:
        await sessions.sign_in("999", "whatever", "10.0.0.1")
    assert refused.value.reason == "wrong extension or password"  # the same words: no user enumeration


async def test_empty_fields_are_named(sessions: Sessions) -> None:
    with pytest.raises(ServiceError) as no_extension:
        await sessions.sign_in(" ", "x", "10.0.0.1")
    assert no_extension.value.field == "extension"
    with pytest.raises(ServiceError) as no_password:
        await sessions.sign_in("102", "", "10.0.0.1")
    assert no_password.value.field == "password"


def test_the_wait_doubles_and_is_capped() -> None:
    assert [wait_after(n).total_seconds() for n in range(6)] == [0, 0, 0, 5, 10, 20]
    assert wait_after(50) == timedelta(minutes=5)
