"""The user directory from a real OpenLDAP slapd (issue 14 §2), on SQLite and PostgreSQL.

Each test starts its own slapd (tests/support/slapd.py) with its own entries, syncs, and reads the users table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from parley.channels.base import Inbound
from parley.core.directory_entries import Entry
from parley.core.provisioning import parse
from parley.services.auth import Authenticator, Throttled
from parley.services.directory import DirectoryCache
from parley.services.directory_sync import LEASE, LEASE_NAME, DirectorySync
from parley.services.events import EventBus
from parley.services.inbound import InboundRouter
from parley.services.ldap_server import Ldap3Server
from parley.services.provisioning import apply
from parley.services.receive import Inbox
from parley.services.throttle import Throttle
from parley.store import directory_syncs
from parley.store.db import Database
from parley.store.tables import directory_syncs as runs_table
from parley.store.tables import participants, users
from tests.conftest import Clock
from tests.support.provisioning import document, provision
from tests.support.slapd import BIND_DN, BIND_PASSWORD, PEOPLE, Slapd, person, running_slapd

ATTRIBUTES = {
    "extension": "parleyExtension",
    "name": "cn",
    "email": "mail",
    "office_number": "telephoneNumber",
    "mobile": "mobile",
    "license": "parleyLicense",
}
OFFICE = "+15551230009"  # a company number no service owns: inbound falls back to its office users

ALICE = person(
    "alice", cn="Alice Ldap", parleyExtension="201", mail="alice@example.com", telephoneNumber="(555) 123-0009",
    parleyLicense="business", userPassword="alice-ldap-pw",
)  # fmt: skip
BOB = person("bob", cn="Bob Ldap", parleyExtension="202", parleyLicense="essential", mobile="+44 7700 900123")
CAROL = person("carol", cn="Carol Ldap", parleyExtension="203", parleyLicense="basic")


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[Slapd]:
    with running_slapd(tmp_path / "slapd") as server:
        yield server


def dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def section(server: Slapd, **overrides: Any) -> dict[str, Any]:
    return {
        "url": server.url,
        "bind_dn": BIND_DN,
        "password": BIND_PASSWORD,
        "base_dn": PEOPLE,
        "filter": "(objectClass=inetOrgPerson)",
        "attributes": ATTRIBUTES,
        **overrides,
    }


async def configured(db: Database, clock: Clock, server: Slapd, **overrides: Any) -> DirectorySync:
    await provision(db, clock(), directory=section(server, **overrides))
    return DirectorySync(db, Ldap3Server(), DirectoryCache(db, country="US", timezone="UTC", ttl=0), clock)


async def rows(db: Database) -> dict[str, Any]:
    async with db.read() as conn:
        return {r.extension: r for r in (await conn.execute(sa.select(users))).all()}


async def test_sync_creates_updates_and_disables_users_and_never_deletes_them(
    db: Database, clock: Clock, slapd: Slapd
) -> None:
    slapd.add("\n".join([ALICE, BOB, CAROL]))
    sync = await configured(db, clock, slapd)

    first = await sync.run("cli")
    assert (first.outcome, first.counts) == ("done", {"created": 3})
    found = await rows(db)
    alice = found["201"]
    assert (alice.name, alice.license, alice.email, alice.office_number) == (
        "Alice Ldap", "business", "alice@example.com", OFFICE,
    )  # fmt: skip
    assert alice.directory_dn == dn("alice") and alice.disabled_at is None
    assert found["202"].mobile == "+447700900123"
    assert found["101"].directory_dn is None  # Parley's own users are left alone

    slapd.modify(f"dn: {dn('alice')}\nchangetype: modify\nreplace: cn\ncn: Alice Renamed\n")
    second = await sync.run("cli")
    assert second.counts == {"updated": 1, "unchanged": 2}
    assert [o.reason for o in second.outcomes if o.outcome == "updated"] == ["name"]
    assert (await rows(db))["201"].name == "Alice Renamed"

    slapd.delete(dn("bob"))
    clock.advance(minutes=1)
    third = await sync.run("cli")
    assert third.counts == {"unchanged": 2, "disabled": 1}
    bob = (await rows(db))["202"]
    assert bob.disabled_at == clock()  # kept with his history, but nobody any more
    assert await DirectoryCache(db, country="US", timezone="UTC").user("202") is None

    slapd.add(BOB)
    fourth = await sync.run("cli")
    assert [(o.extension, o.outcome, o.reason) for o in fourth.outcomes if o.outcome == "updated"] == [
        ("202", "updated", "enabled again")
    ]
    assert (await rows(db))["202"].disabled_at is None
    async with db.read() as conn:
        outcomes = list((await conn.execute(sa.select(runs_table.c.outcome).order_by(runs_table.c.id))).scalars())
    assert outcomes == ["done"] * 4


async def test_odd_entries_are_skipped_with_their_reason_and_the_rest_synced(
    db: Database, clock: Clock, slapd: Slapd
) -> None:
    slapd.add(
        "\n".join(
            [
                person("good", cn="Good", parleyExtension="210", parleyLicense="premium"),
                person("noext", cn="No Extension", parleyLicense="basic"),
                person("twoext", cn="Two", parleyExtension=["211", "212"], parleyLicense="basic"),
                person("latin1", cn="Latin", parleyExtension="213", **{"parleyLicense:": "/w=="}),
                person("badnum", cn="Bad", parleyExtension="214", parleyLicense="basic", telephoneNumber="call me"),
                person("gold", cn="Gold", parleyExtension="215", parleyLicense="gold"),
                person("local", cn="Takes 101", parleyExtension="101", parleyLicense="basic"),
                person("dup", cn="Dup", parleyExtension="210", parleyLicense="basic"),
            ]
        )
    )
    sync = await configured(db, clock, slapd)
    result = await sync.run("console")
    reasons = {o.dn.split(",")[0]: o.reason for o in result.outcomes if o.outcome == "skipped"}
    assert result.counts == {"created": 1, "skipped": 7}
    assert reasons == {
        "uid=noext": "no parleyExtension (extension)",
        "uid=twoext": "parleyExtension (extension) has 2 values; one is expected",
        "uid=latin1": "parleyLicense (license) is not UTF-8 text",
        "uid=badnum": 'telephoneNumber (office_number): "call me" is not a phone number: only digits and a leading '
        "+ are allowed",
        "uid=gold": 'license "gold" is not one of basic, essential, business, premium',
        "uid=local": "extension 101 is Parley's own user (provisioning or console), which wins",
        "uid=dup": f"extension 210 is also given by {dn('good')}",
    }
    found = await rows(db)
    assert found["210"].license == "premium" and found["101"].name == "Alice Smith"
    assert not {"211", "212", "213", "214", "215"} & set(found)


async def test_an_empty_search_or_a_mass_disable_is_refused_and_changes_nothing(
    db: Database, clock: Clock, slapd: Slapd
) -> None:
    entries = [person(f"p{i}", cn=f"P {i}", parleyExtension=f"30{i}", parleyLicense="basic") for i in range(8)]
    slapd.add("\n".join(entries))
    sync = await configured(db, clock, slapd)
    assert (await sync.run("cli")).counts == {"created": 8}

    slapd.delete(*(dn(f"p{i}") for i in range(5)))
    refused = await sync.run("cli")
    assert refused.outcome == "refused"
    assert refused.reason is not None and "would disable 5 of 8 directory users" in refused.reason
    assert all(r.disabled_at is None for r in (await rows(db)).values())

    slapd.delete(*(dn(f"p{i}") for i in range(5, 8)))
    empty = await sync.run("schedule")
    assert empty.outcome == "refused"
    assert empty.reason is not None and "returned no entries" in empty.reason
    assert all(r.disabled_at is None for r in (await rows(db)).values())

    forced = await sync.run("cli", allow_mass_disable=False)
    assert forced.outcome == "refused"  # an empty answer is never applied, even when asked
    slapd.add(entries[7])
    applied = await sync.run("cli", allow_mass_disable=True)
    assert applied.counts == {"unchanged": 1, "disabled": 7}


async def test_a_server_that_is_down_or_refuses_the_bind_changes_nothing(
    db: Database, clock: Clock, slapd: Slapd
) -> None:
    slapd.add("\n".join([ALICE, BOB]))
    sync = await configured(db, clock, slapd)
    await sync.run("cli")
    before = await rows(db)

    wrong = await configured(db, clock, slapd, password="not-the-password")
    refused = await wrong.run("cli")
    assert refused.outcome == "failed"
    assert refused.reason is not None and "bind as cn=parley,dc=example,dc=com refused" in refused.reason
    assert "not-the-password" not in refused.reason

    slapd.stop()
    down = await sync.run("console")
    assert down.outcome == "failed" and down.reason is not None and "cannot reach" in down.reason
    assert await rows(db) == before
    async with db.read() as conn:
        stored = (await conn.execute(sa.select(runs_table).order_by(runs_table.c.id.desc()))).first()
    assert stored is not None and (stored.outcome, stored.trigger) == ("failed", "console")


async def test_ldap_auth_signs_in_with_the_directory_password_and_throttles_wrong_ones(
    db: Database, clock: Clock, slapd: Slapd
) -> None:
    slapd.add(ALICE)
    sync = await configured(db, clock, slapd, ldap_auth=True)
    await sync.run("cli")
    cache = DirectoryCache(db, country="US", timezone="UTC", ttl=0)

    async def no_sleep(_: float) -> None:
        return None

    auth = Authenticator(cache, Throttle(db, clock, memo_seconds=0), sleep=no_sleep, ldap_bind=sync.check_password)
    user = await auth.authenticate("201", "alice-ldap-pw", "10.0.0.1")
    assert user is not None and user.extension == "201"
    assert await auth.authenticate("201", "wrong", "10.0.0.2") is None
    assert await auth.authenticate("201", "", "10.0.0.2") is None  # an empty bind is anonymous, never a sign-in
    with pytest.raises(Throttled):
        for _ in range(20):
            await auth.authenticate("201", "wrong", "10.0.0.2")
    assert await auth.authenticate("101", "sms101api", "10.0.0.3") is not None  # Parley's own users: argon2

    slapd.stop()  # an outage refuses sign-ins but counts no failure: the office is not throttled for it
    fresh = Authenticator(cache, Throttle(db, clock, memo_seconds=0), sleep=no_sleep, ldap_bind=sync.check_password)
    for _ in range(10):
        assert await fresh.authenticate("201", "alice-ldap-pw", "10.0.0.5") is None
    slapd.start_again()
    assert await fresh.authenticate("201", "alice-ldap-pw", "10.0.0.5") is not None

    off = await configured(db, clock, slapd, ldap_auth=False)
    plain = Authenticator(cache, Throttle(db, clock), sleep=no_sleep, ldap_bind=off.check_password)
    assert await plain.authenticate("201", "alice-ldap-pw", "10.0.0.4") is None  # the password stays Parley's


async def test_inbound_office_number_fallback_finds_an_ldap_user(db: Database, clock: Clock, slapd: Slapd) -> None:
    slapd.add(ALICE)
    await provision(
        db, clock(), directory=section(slapd), numbers=[{"number": OFFICE, "sms": True}],
        services=[],
    )  # fmt: skip
    sync = DirectorySync(db, Ldap3Server(), DirectoryCache(db, country="US", timezone="UTC", ttl=0), clock)
    await sync.run("cli")
    alice = (await rows(db))["201"]

    inbox = Inbox(db, clock)
    try:
        message_id = await inbox.receive("carrier", Inbound("+15557654321", OFFICE, "hello"))
        assert message_id is not None
        await InboundRouter(db, EventBus(), clock, on_enqueued=lambda: None).route(message_id)
    finally:
        await inbox.close()
    async with db.read() as conn:
        members = list((await conn.execute(sa.select(participants.c.user_id))).scalars())
    assert members == [alice.id]


async def test_one_sync_at_a_time_and_the_schedule_waits_for_its_interval(
    db: Database, clock: Clock, slapd: Slapd
) -> None:
    slapd.add(ALICE)
    sync = await configured(db, clock, slapd, interval=600)
    async with db.write() as conn:
        assert await directory_syncs.take_lease(conn, LEASE_NAME, "another-worker", clock(), clock() + LEASE)
    busy = await sync.run("console")
    assert (busy.outcome, busy.reason) == ("busy", "another directory sync is running")

    clock.advance(seconds=LEASE.total_seconds())  # the other holder died: its lease runs out
    scheduled = await sync.run_if_due()
    assert scheduled is not None and scheduled.counts == {"created": 1}
    assert await sync.run_if_due() is None
    clock.advance(seconds=599)
    assert await sync.run_if_due() is None
    clock.advance(seconds=1)
    again = await sync.run_if_due()
    assert again is not None and again.counts == {"unchanged": 1}


async def test_the_provisioning_file_wins_and_prune_never_deletes_directory_users(
    db: Database, clock: Clock, slapd: Slapd
) -> None:
    slapd.add("\n".join([ALICE, BOB]))
    sync = await configured(db, clock, slapd)
    await sync.run("cli")

    doc = document(directory=section(slapd))
    doc["users"].append({"extension": "202", "name": "Bob From File", "password": "bob-file-pw", "license": "basic"})
    report = await apply(db, parse(doc), now=clock(), prune=True)
    assert "users.removed" not in report.counts
    found = await rows(db)
    assert found["201"].directory_dn == dn("alice")  # pruning leaves the directory's users alone
    assert (found["202"].name, found["202"].directory_dn) == ("Bob From File", None)  # the file took Bob over

    result = await sync.run("cli")
    assert [(o.extension, o.outcome) for o in result.outcomes] == [("201", "unchanged"), ("202", "skipped")]
    assert (await rows(db))["202"].name == "Bob From File"


class HeldServer:
    """A directory whose search waits until released: the first sync holds the lease meanwhile."""

    def __init__(self) -> None:
        self.searching = asyncio.Event()
        self.release = asyncio.Event()

    async def search(self, config: Any, progress: Any = None) -> list[Entry]:
        self.searching.set()
        await self.release.wait()
        return [Entry(dn("ann"), {"parleyExtension": [b"201"], "cn": [b"Ann"], "parleyLicense": [b"basic"]})]

    async def check_password(self, config: Any, dn: str, password: str) -> bool:
        return False


async def test_two_workers_syncing_at_once_run_one_sync(db: Database, clock: Clock, slapd: Slapd) -> None:
    await provision(db, clock(), directory=section(slapd))
    held = HeldServer()
    first, second = (
        DirectorySync(db, held, DirectoryCache(db, country="US", timezone="UTC", ttl=0), clock) for _ in range(2)
    )
    running = asyncio.create_task(first.run("schedule"))
    async with asyncio.timeout(10):
        await held.searching.wait()
    assert (await second.run("schedule")).outcome == "busy"
    held.release.set()
    assert (await running).counts == {"created": 1}
    assert (await second.run("console")).counts == {"unchanged": 1}  # the lease was given back


async def test_runs_keep_only_what_changed_and_only_the_last_ones(db: Database, clock: Clock, slapd: Slapd) -> None:
    slapd.add("\n".join([ALICE, BOB]))
    await provision(db, clock(), directory=section(slapd))
    cache = DirectoryCache(db, country="US", timezone="UTC", ttl=0)
    sync = DirectorySync(db, Ldap3Server(), cache, clock, keep_runs=2)
    for _ in range(3):
        await sync.run("cli")
    last, before = await sync.last_runs(5)
    assert (last.counts, last.outcomes) == ({"unchanged": 2}, ())  # unchanged entries are counted, not listed
    assert before.counts == {"unchanged": 2}
