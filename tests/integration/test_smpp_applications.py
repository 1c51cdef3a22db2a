"""The SMPP server's use cases on SQLite and PostgreSQL: accounts from provisioning, binds with the lockout,
submits (whole and in parts) through the Outbox, receipts and inbound messages leased to one bind."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from parley.channels.smpp_pdu import ESM_UDHI, Concat, Status, SubmitSm, build_udh
from parley.channels.smpp_submit import SubmitRefused, read_submit
from parley.core.text import encode_gsm7
from parley.services.auth import Authenticator
from parley.services.directory import DirectoryCache
from parley.services.send import Outbox
from parley.services.smpp_applications import BindRefused, SmppApplications, SmppInbound
from parley.services.throttle import Throttle
from parley.store import messages as messages_store
from parley.store.db import Database
from parley.store.ids import new_id
from parley.store.tables import messages, smpp_accounts, smpp_inbound, smpp_submits
from tests.conftest import Clock
from tests.support.provisioning import provision

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
