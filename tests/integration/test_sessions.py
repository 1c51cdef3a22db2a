"""Console sessions on SQLite and PostgreSQL: tokens, expiry, sign-out, password changes, throttled wrong passwords."""

from __future__ import annotations

import pytest

from parley.services.auth import Authenticator
from parley.services.directory import DirectoryCache
from parley.services.errors import ServiceError
from parley.services.sessions import IDLE_LIFETIME, Sessions, SignInRefused
from parley.services.throttle import Throttle
from parley.store.db import Database
from tests.conftest import Clock
from tests.support.provisioning import BASE, provision


async def no_sleep(_: float) -> None:
    return None


def make_sessions(db: Database, clock: Clock) -> Sessions:
    """What one `parley serve` process builds (memo off: each test step sees the database at once)."""
    cache = DirectoryCache(db, country="US", timezone="UTC", ttl=0)
    return Sessions(db, cache, Authenticator(cache, Throttle(db, clock, memo_seconds=0), sleep=no_sleep), clock)


@pytest.fixture
async def sessions(db: Database, clock: Clock) -> Sessions:
    await provision(db, clock())
    return make_sessions(db, clock)


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


async def test_guessing_from_one_address_across_extensions_is_stopped(sessions: Sessions) -> None:
    for n in range(10):  # ten extensions, one guess each: no pair reaches its own limit
        with pytest.raises(SignInRefused):
            await sessions.sign_in(f"9{n:02}", "guess", "10.0.0.9")
    with pytest.raises(SignInRefused) as throttled:
        await sessions.sign_in("101", "sms101api", "10.0.0.9")
    assert throttled.value.retry_after > 0
    # Another address is not held back by this one.
    assert (await sessions.sign_in("101", "sms101api", "10.0.0.10")).user.extension == "101"


async def test_a_right_password_from_a_new_address_is_never_locked_out_by_others(sessions: Sessions) -> None:
    # Someone guesses the admin's password from many addresses, each as often as it may.
    for n in range(5):
        for _ in range(3):
            with pytest.raises(SignInRefused) as wrong:
                await sessions.sign_in("101", "guess", f"192.0.2.{n}")
            assert wrong.value.status == 401
    assert (await sessions.sign_in("101", "sms101api", "10.0.0.1")).user.extension == "101"


async def test_a_right_password_after_others_failures_is_only_slowed(db: Database, clock: Clock) -> None:
    await provision(db, clock())
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    cache = DirectoryCache(db, country="US", timezone="UTC", ttl=0)
    sessions = Sessions(db, cache, Authenticator(cache, Throttle(db, clock, memo_seconds=0), sleep=sleep), clock)
    for n in range(11):
        with pytest.raises(SignInRefused):
            await sessions.sign_in("102", "guess", f"192.0.2.{n}")
    delays.clear()
    assert (await sessions.sign_in("102", "bob-secret", "10.0.0.1")).user.extension == "102"
    assert 0 < delays[0] <= 2  # the extension-wide counter only slows, and not for long


async def test_counters_are_forgotten_fifteen_minutes_after_the_last_failure(sessions: Sessions, clock: Clock) -> None:
    for n in range(10):  # this address is now held back ...
        with pytest.raises(SignInRefused):
            await sessions.sign_in(f"9{n:02}", "guess", "10.0.0.9")
    with pytest.raises(SignInRefused) as held:
        await sessions.sign_in("102", "bob-secret", "10.0.0.9")
    assert held.value.status == 429
    clock.advance(minutes=15)  # ... until its counter is forgotten; a right password never cleared it
    assert (await sessions.sign_in("102", "bob-secret", "10.0.0.9")).user.extension == "102"
    for _ in range(2):  # and the count starts again from nothing
        with pytest.raises(SignInRefused) as wrong:
            await sessions.sign_in("102", "guess", "10.0.0.9")
        assert wrong.value.status == 401


async def test_processes_sharing_a_database_share_the_counters(db: Database, clock: Clock) -> None:
    await provision(db, clock())
    first, second = make_sessions(db, clock), make_sessions(db, clock)
    for _ in range(3):
        with pytest.raises(SignInRefused):
            await first.sign_in("102", "guess", "10.0.0.1")
    with pytest.raises(SignInRefused) as throttled:
        await second.sign_in("102", "bob-secret", "10.0.0.1")
    assert throttled.value.status == 429


async def test_an_overlong_extension_is_a_wrong_password_not_an_error(sessions: Sessions) -> None:
    for _ in range(4):
        with pytest.raises(SignInRefused) as refused:
            await sessions.sign_in("1" * 250, "whatever", "10.0.0.1")
    assert refused.value.status == 429  # counted like any guess


async def test_a_changed_password_ends_the_sessions_opened_with_the_old_one(
    db: Database, sessions: Sessions, clock: Clock
) -> None:
    phone = await sessions.sign_in("102", "bob-secret", "10.0.0.1")
    laptop = await sessions.sign_in("102", "bob-secret", "10.0.0.2")
    admin = await sessions.sign_in("101", "sms101api", "10.0.0.3")
    await sessions.keep(laptop)  # nothing changed yet: keeping a session changes nothing either
    users = [{**u, "password": "bob-new-secret"} if u["extension"] == "102" else u for u in BASE["users"]]
    await provision(db, clock(), users=users)  # `parley apply` (or the console, or another host)
    await sessions.keep(laptop)  # the session that changed the password stays
    assert await sessions.resolve(phone.token) is None
    assert await sessions.resolve(laptop.token) is not None
    assert await sessions.resolve(admin.token) is not None  # other users are not touched
    with pytest.raises(SignInRefused):
        await sessions.sign_in("102", "bob-secret", "10.0.0.1")
    assert (await sessions.sign_in("102", "bob-new-secret", "10.0.0.1")).user.extension == "102"


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
