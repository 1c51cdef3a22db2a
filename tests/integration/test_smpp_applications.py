"""The SMPP server's use cases on SQLite and PostgreSQL: accounts from provisioning, binds with the lockout,
submits (whole and in parts) through the Outbox, receipts and inbound messages leased to one bind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.channels.smpp_pdu import ESM_UDHI, Concat, Status, SubmitSm, build_udh
from parley.channels.smpp_submit import SubmitRefused, read_submit
from parley.core.text import encode_gsm7
from parley.services.auth import Authenticator
from parley.services.directory import DirectoryCache
from parley.services.send import Outbox, SendResult, SendSms
from parley.services.smpp_applications import Account, BindRefused, SmppApplications, SmppInbound
from parley.services.throttle import Throttle
from parley.store import messages as messages_store
from parley.store.db import Database
from parley.store.ids import new_id
from parley.store.tables import messages, smpp_accounts, smpp_inbound, smpp_submits
from tests.conftest import Clock
from tests.support.provisioning import provision
from tests.support.server import wait_until

ACCOUNTS = [{"system_id": "crm", "password": "s3cret", "user": "101", "throughput": 50}]


@pytest.fixture
async def apps(db: Database, clock: Clock) -> SmppApplications:
    await provision(db, clock(), smpp_accounts=ACCOUNTS)
    cache = DirectoryCache(db, country="US", timezone="UTC")
    auth = Authenticator(cache, Throttle(db, clock, memo_seconds=0))
    return SmppApplications(db, cache, Outbox(db, cache, clock), auth, clock)


async def test_provisioning_keeps_the_password_as_an_argon2_hash_and_again_unchanged(
    db: Database, clock: Clock, apps: SmppApplications
) -> None:
    async with db.read() as conn:
        stored = (await conn.execute(sa.select(smpp_accounts))).one()
    assert stored.password_hash.startswith("$argon2") and "s3cret" not in stored.password_hash
    report = await provision(db, clock(), smpp_accounts=ACCOUNTS)
    assert report.counts["smpp_accounts.unchanged"] == 1


async def test_binds_are_refused_by_kind_and_five_failures_lock_the_address_out(
    apps: SmppApplications, clock: Clock
) -> None:
    account = await apps.bind("crm", "s3cret", "10.0.0.1")
    assert (account.system_id, account.extension, account.throughput) == ("crm", "101", 50)
    statuses = []
    for system_id, password in [("nobody", "x"), ("crm", "wrong"), ("nobody", "x"), ("nobody", "x"), ("crm", "no")]:
        with pytest.raises(BindRefused) as caught:
            await apps.bind(system_id, password, "10.0.0.2")
        statuses.append(caught.value.status)
    assert statuses[:2] == [Status.ESME_RINVSYSID, Status.ESME_RINVPASWD]
    with pytest.raises(BindRefused) as caught:
        await apps.bind("crm", "s3cret", "10.0.0.2")
    assert caught.value.status == Status.ESME_RBINDFAIL
    await apps.bind("crm", "s3cret", "10.0.0.3")  # another address is not held back
    clock.advance(minutes=5, seconds=1)
    await apps.bind("crm", "s3cret", "10.0.0.2")  # five minutes later it may bind again


async def test_parts_are_durable_each_and_sent_once_whole(db: Database, apps: SmppApplications) -> None:
    account = await apps.bind("crm", "s3cret", "10.0.0.1")
    texts = ["Hello ", "there, ", "friend"]
    ids = []
    for seq in (3, 1, 2):  # out of order
        data = build_udh(Concat(42, 3, seq)) + encode_gsm7(texts[seq - 1])
        pdu = SubmitSm(source_addr="15551230001", source_addr_ton=1, destination_addr="15557654321",
                       dest_addr_ton=1, esm_class=ESM_UDHI, short_message=data, registered_delivery=1)  # fmt: skip
        ids.append(await apps.submit(account, read_submit(pdu)))
        async with db.read() as conn:
            assert await conn.scalar(sa.select(sa.func.count()).select_from(smpp_submits)) == len(ids)
    async with db.read() as conn:
        sent = (await conn.execute(sa.select(messages))).all()
        parts = (await conn.execute(sa.select(smpp_submits))).all()
    assert [(m.body, m.sender, m.source) for m in sent] == [("Hello there, friend", "+15551230001", "smpp-server")]
    assert {p.message_id for p in parts} == {sent[0].id} and sorted(p.id for p in parts) == sorted(ids)


class GatedDatabase(Database):
    """The same database, where the test can hold transactions once they ended (each kind while it is in ``hold``):
    a read once its statements ran, a write once committed. Each held one waits on its own event in ``gates``,
    in the order they came, until the test sets it."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.hold: set[str] = set()
        self.gates: dict[str, list[asyncio.Event]] = {"read": [], "write": []}
        self.writes = 0  # writes gone past their gate
        self.reading = 0  # reads begun and neither at their gate nor done

    async def _gate(self, kind: str) -> None:
        if kind in self.hold:
            gate = asyncio.Event()
            self.gates[kind].append(gate)
            await gate.wait()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        self.reading += 1
        try:
            async with super().read() as conn:
                yield conn
        finally:
            self.reading -= 1
        await self._gate("read")

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        async with super().write() as conn:
            yield conn
        await self._gate("write")
        self.writes += 1


@pytest.mark.usefixtures("apps")  # the account
async def test_the_last_parts_racing_for_the_join_send_the_message_once(db: Database, clock: Clock) -> None:
    """Part 1 reads under the join's lock while part 2 waits for it; part 3 is written meanwhile and reaches the lock
    only after part 1 let go of it to part 2. Part 3 must wait for part 2 (which sends the message), not take a lock
    of its own and send the message a second time (the e2e test's one failure under load)."""
    gated = GatedDatabase(db.url)
    cache = DirectoryCache(db, country="US", timezone="UTC")
    auth = Authenticator(cache, Throttle(db, clock, memo_seconds=0))
    apps = SmppApplications(gated, cache, Outbox(db, cache, clock), auth, clock)
    account = await apps.bind("crm", "s3cret", "10.0.0.1")
    texts = ["Hello ", "there, ", "friend"]

    def part(seq: int) -> asyncio.Task[str]:
        data = build_udh(Concat(42, 3, seq)) + encode_gsm7(texts[seq - 1])
        pdu = SubmitSm(source_addr="15551230001", source_addr_ton=1, destination_addr="15557654321",
                       dest_addr_ton=1, esm_class=ESM_UDHI, short_message=data, registered_delivery=1)  # fmt: skip
        return asyncio.create_task(apps.submit(account, read_submit(pdu)))

    try:
        gated.hold = {"write"}
        first = part(1)
        await wait_until(lambda: len(gated.gates["write"]) == 1, timeout=10)  # part 1 is written
        gated.hold = {"read"}
        gated.gates["write"][0].set()
        await wait_until(lambda: len(gated.gates["read"]) == 1, timeout=10)  # under the lock, having read 1 part
        gated.hold = set()
        second = part(2)
        await wait_until(lambda: gated.writes == 2, timeout=10)  # part 2 is written, and waits for the lock
        gated.hold = {"write"}
        third = part(3)
        await wait_until(lambda: len(gated.gates["write"]) == 2, timeout=10)  # part 3 is written, not yet further
        gated.hold = {"read"}
        gated.gates["read"][0].set()  # part 1 finds 2 of 3 parts and lets go of the lock, to part 2
        await first
        await wait_until(lambda: len(gated.gates["read"]) == 2, timeout=10)  # part 2 has read all three
        gated.gates["write"][1].set()  # part 3 goes on to the lock
        await wait_until(lambda: gated.writes == 3 and gated.reading == 0, timeout=10)  # waits, or has read too
        gated.hold = set()
        for gate in gated.gates["read"]:
            gate.set()
        await asyncio.gather(second, third)
    finally:
        gated.hold = set()
        for gate in gated.gates["read"] + gated.gates["write"]:
            gate.set()
        await gated.close()
    async with db.read() as conn:
        sent = (await conn.execute(sa.select(messages.c.body))).scalars().all()
    assert sent == ["Hello there, friend"]


def _process(db: Database, gated: GatedDatabase, clock: Clock) -> tuple[SmppApplications, Outbox]:
    """What one `parley serve` holds: its own connections (``gated``), SMPP applications and Outbox."""
    cache = DirectoryCache(db, country="US", timezone="UTC")
    outbox = Outbox(gated, cache, clock)
    return SmppApplications(
        gated, cache, outbox, Authenticator(cache, Throttle(db, clock, memo_seconds=0)), clock
    ), outbox


def _part(apps: SmppApplications, account: Account, seq: int) -> asyncio.Task[str]:
    data = build_udh(Concat(42, 3, seq)) + encode_gsm7(["Hello ", "there, ", "friend"][seq - 1])
    pdu = SubmitSm(source_addr="15551230001", source_addr_ton=1, destination_addr="15557654321",
                   dest_addr_ton=1, esm_class=ESM_UDHI, short_message=data, registered_delivery=1)  # fmt: skip
    return asyncio.create_task(apps.submit(account, read_submit(pdu)))


def _open(*gates: asyncio.Event) -> None:
    for gate in gates:
        gate.set()


@asynccontextmanager
async def _two_processes(url: str) -> AsyncIterator[tuple[GatedDatabase, GatedDatabase]]:
    """Two processes' connections to one database; whatever the test held is let go before they close."""
    a, b = GatedDatabase(url), GatedDatabase(url)
    try:
        yield a, b
    finally:
        a.hold = b.hold = set()
        _open(*a.gates["read"], *a.gates["write"], *b.gates["read"], *b.gates["write"])
        await a.close()
        await b.close()


async def _sent_once(db: Database, first: str, answers: list[str]) -> None:
    """The long message is stored once, every part linked to it, each submit answered with its part's id."""
    async with db.read() as conn:
        joined = (await conn.execute(sa.select(messages.c.id).where(messages.c.body == "Hello there, friend"))).all()
        parts = (await conn.execute(sa.select(smpp_submits.c.id, smpp_submits.c.message_id))).all()
    assert len(joined) == 1
    assert sorted(p.id for p in parts) == sorted([first, *answers])
    assert {p.message_id for p in parts} == {joined[0].id}


@pytest.mark.usefixtures("apps")  # the account
async def test_two_processes_given_the_last_parts_at_once_send_the_message_once(db: Database, clock: Clock) -> None:
    """An ESME's binds on two processes: parts 2 and 3 are both written before either process reads, so both find
    the message whole and both send it at once. The database lets one of them link the parts; the other writes
    nothing and answers with its part's id."""
    async with _two_processes(db.url) as (a, b):
        apps_a, _ = _process(db, a, clock)
        apps_b, _ = _process(db, b, clock)
        account = await apps_a.bind("crm", "s3cret", "10.0.0.1")
        first = await _part(apps_a, account, 1)
        a.hold = b.hold = {"write"}
        second, third = _part(apps_a, account, 2), _part(apps_b, account, 3)
        await wait_until(lambda: len(a.gates["write"]) == len(b.gates["write"]) == 1, timeout=10)  # both written
        a.hold = b.hold = {"read"}
        _open(a.gates["write"][0], b.gates["write"][0])
        await wait_until(lambda: len(a.gates["read"]) == len(b.gates["read"]) == 1, timeout=10)  # both read 3 parts
        a.hold = b.hold = set()
        _open(a.gates["read"][0], b.gates["read"][0])
        answers = list(await asyncio.gather(second, third))
    await _sent_once(db, first, answers)


@pytest.mark.usefixtures("apps")  # the account
async def test_a_process_that_lost_the_join_writes_the_others_of_its_group_commit(db: Database, clock: Clock) -> None:
    """Process A has read all three parts when process B sends the message. A's send then shares a group commit
    with an unrelated message: that transaction fails on the parts B linked, and the group commit writes the
    unrelated message without A's copy of the long one."""
    user = await DirectoryCache(db, country="US", timezone="UTC").user("101")
    assert user is not None
    async with _two_processes(db.url) as (a, b):
        apps_a, outbox_a = _process(db, a, clock)
        apps_b, _ = _process(db, b, clock)

        def unrelated(text: str) -> asyncio.Task[SendResult]:
            return asyncio.create_task(outbox_a.send(SendSms(user=user, destinations=["+15557654322"], text=text)))

        account = await apps_b.bind("crm", "s3cret", "10.0.0.1")
        first = await _part(apps_b, account, 1)
        a.hold = {"write"}
        second = _part(apps_a, account, 2)
        await wait_until(lambda: len(a.gates["write"]) == 1, timeout=10)  # part 2 is written on A
        b.hold = {"read"}
        third = _part(apps_b, account, 3)
        await wait_until(lambda: len(b.gates["read"]) == 1, timeout=10)  # B has read all three parts
        a.hold = {"read"}
        a.gates["write"][0].set()
        await wait_until(lambda: len(a.gates["read"]) == 1, timeout=10)  # so has A
        b.hold = set()
        b.gates["read"][0].set()
        answers = [await third]  # B sent the message
        a.hold = {"write"}
        plug = unrelated("First")  # its transaction holds A's group commit while the next sends queue up
        await wait_until(lambda: len(a.gates["write"]) == 2, timeout=10)
        a.gates["read"][0].set()  # A sends the message too
        other = unrelated("Second")
        await wait_until(lambda: len(outbox_a._committer._pending) == 2, timeout=10)  # one group commit
        a.hold = set()
        a.gates["write"][1].set()
        answers.insert(0, await second)
        await asyncio.gather(plug, other)
    await _sent_once(db, first, answers)
    async with db.read() as conn:
        bodies = (await conn.execute(sa.select(messages.c.body).where(messages.c.recipient == "+15557654322"))).all()
    assert sorted(r.body for r in bodies) == ["First", "Second"]


async def test_a_receipt_is_leased_to_one_bind_and_settled_once(
    db: Database, clock: Clock, apps: SmppApplications
) -> None:
    account = await apps.bind("crm", "s3cret", "10.0.0.1")
    pdu = SubmitSm(destination_addr="15557654321", dest_addr_ton=1, short_message=b"Hi", registered_delivery=1)
    message_id = await apps.submit(account, read_submit(pdu))
    assert await apps.claim(["crm"]) == []  # not final yet
    async with db.write() as conn:
        await messages_store.update_many(conn, [{"id": message_id, "status": "delivered", "updated_at": clock()}])
    [receipt] = await apps.claim(["crm"])
    assert (receipt.kind, receipt.key, receipt.message_state) == ("receipt", message_id, 2)
    assert receipt.text.startswith(f"id:{message_id} sub:001 dlvrd:001 ") and "stat:DELIVRD err:000" in receipt.text
    assert await apps.claim(["crm"]) == []  # leased
    await apps.release([receipt])
    [again] = await apps.claim(["crm"])
    await apps.delivered([again])
    clock.advance(minutes=5)
    assert await apps.claim(["crm"]) == []


async def test_a_refused_submit_names_its_status(apps: SmppApplications) -> None:
    account = await apps.bind("crm", "s3cret", "10.0.0.1")
    pdu = SubmitSm(source_addr="15550000000", source_addr_ton=1, destination_addr="15557654321", short_message=b"x")
    with pytest.raises(SubmitRefused) as caught:
        await apps.submit(account, read_submit(pdu))
    assert caught.value.status == Status.ESME_RINVSRCADR


async def test_inbound_to_the_users_numbers_waits_for_the_account(
    db: Database, clock: Clock, apps: SmppApplications
) -> None:
    hook = SmppInbound(clock)
    rows = [
        {"id": new_id(), "direction": "in", "sender": "+15559870000", "recipient": to, "body": text,
         "status": "received", "segments": 1, "encoding": "gsm7", "source": "smpp", "created_at": clock(),
         "updated_at": clock()}
        for to, text in [("+15551230001", "for Alice"), ("+15550000000", "for nobody")]
    ]  # fmt: skip
    async with db.write() as conn:
        await conn.execute(messages.insert(), rows)
        found = (await conn.execute(sa.select(messages))).all()
        await hook(conn, found)
    async with db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(smpp_inbound)) == 1
    [mo] = await apps.claim(["crm"])
    assert (mo.kind, mo.source, mo.destination, mo.text) == ("mo", "+15559870000", "+15551230001", "for Alice")
    await apps.delivered([mo])
    async with db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(smpp_inbound)) == 0
