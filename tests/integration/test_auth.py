"""The Authenticator under attack, on SQLite and PostgreSQL: bounded argon2, throttled guesses, no enumeration.

argon2 itself is replaced by a recording check (`verify=`), so each test can see which checks ran and when.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

import pytest

from parley.services.auth import Authenticator, Throttled
from parley.services.directory import DirectoryCache
from parley.services.passwords import hash_password, verify_password
from parley.services.throttle import Throttle
from parley.store.db import Database
from tests.conftest import Clock
from tests.support.provisioning import provision


class RecordingCheck:
    """argon2's verify, recorded; ``hold`` makes every check wait until ``release``."""

    def __init__(self, *, hold: bool = False) -> None:
        self.calls: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()
        self._released = threading.Event()
        if not hold:
            self._released.set()
        self.on_loop_thread: list[bool] = []

    def __call__(self, stored_hash: str, password: str) -> bool:
        with self._lock:
            self.calls.append(stored_hash)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            released = self._released.wait(10)
            return released and verify_password(stored_hash, password)
        finally:
            with self._lock:
                self.running -= 1

    def release(self) -> None:
        self._released.set()


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def no_sleep(_: float) -> None:
    return None


@pytest.fixture
async def cache(db: Database, clock: Clock) -> DirectoryCache:
    await provision(db, clock())
    return DirectoryCache(db, country="US", timezone="UTC")


def authenticator(
    db: Database, cache: DirectoryCache, clock: Clock, check: RecordingCheck, **kwargs: object
) -> Authenticator:
    sleep: Callable[[float], Awaitable[None]] = no_sleep
    return Authenticator(cache, Throttle(db, clock, memo_seconds=0), sleep=sleep, verify=check, **kwargs)  # type: ignore[arg-type]


async def test_at_most_max_checks_argon2_checks_run_at_once(db: Database, cache: DirectoryCache, clock: Clock) -> None:
    check = RecordingCheck(hold=True)
    auth = authenticator(db, cache, clock, check, max_checks=2)
    guesses = [asyncio.create_task(auth.authenticate("102", f"guess-{n}", f"192.0.2.{n}")) for n in range(6)]
    await until(lambda: check.running == 2)
    with pytest.raises(TimeoutError):  # the other four wait for a free slot (a third would start at once)
        await until(lambda: check.running > 2, timeout=0.5)
    check.release()
    assert await asyncio.gather(*guesses) == [None] * 6
    assert (len(check.calls), check.most_at_once) == (6, 2)


async def test_a_remembered_right_password_never_waits_for_the_argon2_bound(
    db: Database, cache: DirectoryCache, clock: Clock
) -> None:
    check = RecordingCheck()
    auth = authenticator(db, cache, clock, check, max_checks=2)
    assert await auth.authenticate("101", "sms101api", "10.0.0.1") is not None  # verified once: remembered
    check._released.clear()  # from now on every argon2 check hangs
    guesses = [asyncio.create_task(auth.authenticate("102", f"guess-{n}", f"192.0.2.{n}")) for n in range(4)]
    await until(lambda: check.running == 2)
    user = await asyncio.wait_for(auth.authenticate("101", "sms101api", "10.0.0.1"), 10)
    assert user is not None and user.extension == "101"
    check.release()
    await asyncio.gather(*guesses)


async def test_guesses_fired_in_parallel_from_one_address_get_no_more_tries(
    db: Database, cache: DirectoryCache, clock: Clock
) -> None:
    check = RecordingCheck()
    auth = authenticator(db, cache, clock, check)
    results = await asyncio.gather(
        *(auth.authenticate("102", f"guess-{n}", "192.0.2.1") for n in range(10)), return_exceptions=True
    )
    assert len(check.calls) == 3  # the free attempts of one (extension, address), not ten
    assert sum(isinstance(r, Throttled) for r in results) == 7


async def test_an_unknown_extension_costs_an_argon2_check_like_a_known_one(
    db: Database, cache: DirectoryCache, clock: Clock
) -> None:
    check = RecordingCheck()
    auth = authenticator(db, cache, clock, check)
    assert await auth.authenticate("999", "guess", "10.0.0.1") is None
    assert await auth.authenticate("102", "guess", "10.0.0.1") is None
    assert len(check.calls) == 2
    assert check.calls[0].startswith("$argon2")  # a real hash, so the check takes as long


async def test_a_right_password_inside_the_wait_is_refused_even_when_remembered(
    db: Database, cache: DirectoryCache, clock: Clock
) -> None:
    auth = authenticator(db, cache, clock, RecordingCheck())
    assert await auth.authenticate("102", "bob-secret", "10.0.0.1") is not None  # Bob works: remembered
    for _ in range(3):
        assert await auth.authenticate("102", "guess", "192.0.2.1") is None
    # Otherwise a guesser could try at full speed and stop at the one answer that is not refused.
    with pytest.raises(Throttled):
        await auth.authenticate("102", "bob-secret", "192.0.2.1")
    assert await auth.authenticate("102", "bob-secret", "10.0.0.1") is not None  # Bob himself is not held back


async def test_a_shared_secret_is_checked_off_the_event_loop(db: Database, cache: DirectoryCache, clock: Clock) -> None:
    check = RecordingCheck(hold=True)
    auth = authenticator(db, cache, clock, check)
    stored = await asyncio.to_thread(hash_password, "wildix-pass")
    checking = asyncio.create_task(auth.check_secret(stored, "wildix-pass", "mail2sms:a@example.com", "10.0.0.1"))
    await until(lambda: check.running == 1)
    check.release()  # only possible while the check runs elsewhere: on the loop it would hold the loop
    assert await checking is True


async def test_the_directory_remembers_a_bounded_number_of_extensions(db: Database, clock: Clock) -> None:
    await provision(db, clock())
    cache = DirectoryCache(db, country="US", timezone="UTC", max_users=20)
    for n in range(100):
        assert await cache.user(f"unknown-{n}") is None
    assert await cache.user("1" * 250) is None
    assert cache.remembered <= 20
    assert (await cache.user("101")) is not None
