"""Admin use cases on SQLite and PostgreSQL: the console's checks are provisioning's, and nothing is half-saved."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
import pytest

from parley.channels.base import Outgoing, Sent
from parley.channels.curl import CurlChannel
from parley.services.admin import Admin
from parley.services.admin_checks import AdminError
from parley.services.directory import DirectoryCache, User
from parley.services.numbers import Numbers
from parley.services.passwords import verify_password
from parley.services.transports import Transports
from parley.store import directory
from parley.store.db import Database
from tests.conftest import Clock
from tests.support.provisioning import provision


class FakeSmpp:
    """Stands in for an SMPP channel: bound, and records what it was given."""

    kind: ClassVar[str] = "smpp"
    state = "bound"
    last_error = None

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[Outgoing] = []

    async def start(self) -> None: ...

    async def send(self, msg: Outgoing) -> Sent:
        self.sent.append(msg)
        return Sent(carrier_ids=("abc123",))

    async def stop(self) -> None: ...


def make_channel(row: Any) -> Any:
    return CurlChannel(row.name, row.config["command"]) if row.kind == "curl" else FakeSmpp(row.name)


@pytest.fixture
async def admin(db: Database, clock: Clock) -> Admin:
    await provision(db, clock())
    live = Transports(db, make_channel)
    await live.start()  # as in a process that runs workers
    return Admin(db, DirectoryCache(db, country="US", timezone="UTC", ttl=0), clock, live)


async def user(db: Database, extension: str) -> User:
    found = await DirectoryCache(db, country="US", timezone="UTC").user(extension)
    assert found is not None
    return found


async def problems(call: Any) -> dict[str | None, str]:
    with pytest.raises(AdminError) as caught:
        await call
    assert caught.value.status == 422
    return dict(caught.value.all)


async def test_a_new_user_is_checked_like_a_provisioning_entry_and_his_password_hashed(
    admin: Admin, db: Database
) -> None:
    alice = await user(db, "101")
    found = await problems(admin.save_user(alice, {"extension": "", "name": "X", "password": "abc", "license": "gold"}))
    assert found["extension"] == "is required"
    assert found["password"] == "must be at least 6 characters"
    assert found["license"].startswith('"gold" is not one of basic')

    form = {"extension": "110", "name": "Dana", "password": "dana-secret", "office_number": "(555) 123-0009"}
    assert await admin.save_user(alice, form) == "110"
    async with db.read() as conn:
        dana = await directory.find_user(conn, "110")
    assert dana is not None and dana.office_number == "+15551230009"
    assert verify_password(dana.password_hash, "dana-secret")
    assert "dana-secret" not in dana.password_hash
    taken = await problems(admin.save_user(alice, form))
    assert taken["extension"] == "110 is already a user"


async def test_editing_a_user_without_a_password_keeps_the_old_one(admin: Admin, db: Database) -> None:
    alice = await user(db, "101")
    await admin.save_user(alice, {"name": "Bob Renamed", "license": "premium", "password": ""}, "102")
    bob = await user(db, "102")
    assert bob.name == "Bob Renamed" and bob.license.label == "premium"
    assert verify_password(bob.password_hash, "bob-secret")
    await admin.save_user(alice, {"name": "Bob Renamed", "password": "new-secret"}, "102")
    assert verify_password((await user(db, "102")).password_hash, "new-secret")


async def test_an_admin_cannot_delete_himself_or_drop_his_own_role(admin: Admin, db: Database) -> None:
    alice = await user(db, "101")
    with pytest.raises(AdminError) as caught:
        await admin.delete_user(alice, "101")
    assert caught.value.status == 409
    assert (await problems(admin.save_user(alice, {"name": "Alice", "role": "user"}, "101")))["role"]
    await admin.delete_user(alice, "103")
    assert (await admin.users(alice)).total == 2


async def test_only_admins_may_administer(admin: Admin, db: Database) -> None:
    bob = await user(db, "102")
    with pytest.raises(AdminError) as caught:
        await admin.users(bob)
    assert caught.value.status == 403


async def test_users_come_in_pages(admin: Admin, db: Database) -> None:
    alice = await user(db, "101")
    first = await admin.users(alice, 0, 2)
    assert [u["extension"] for u in first.items] == ["101", "102"]
    assert first.next == 2 and first.previous is None
    second = await admin.users(alice, first.next, 2)
    assert [u["extension"] for u in second.items] == ["103"] and second.next is None


async def test_a_service_names_only_existing_users_and_can_be_renamed(admin: Admin, db: Database) -> None:
    alice = await user(db, "101")
    found = await problems(admin.save_service(alice, {"name": "Sales", "static_members": "101, 999"}))
    assert found["static_members"] == '"999" is not a user in this file'
    await admin.save_service(alice, {"name": "Sales", "static_members": "101", "dynamic_members": "102, 103"})
    await admin.save_service(
        alice, {"name": "Sales team", "static_members": "103", "sms_number": "5551230002"}, "Sales"
    )
    page = await admin.services(alice)
    sales = next(s for s in page.items if s["name"] == "Sales team")
    assert sales == {"name": "Sales team", "sms_number": "+15551230002", "static_members": ["103"],
                     "dynamic_members": []}  # fmt: skip
    assert (await problems(admin.save_service(alice, {"name": "Support"}, "Sales team")))["name"]


async def test_numbers_list_says_which_are_partially_configured(admin: Admin, db: Database) -> None:
    alice = await user(db, "101")
    await admin.save_service(alice, {"name": "Night"})
    await admin.add_number(alice, {"number": "(555) 123-0002", "linked_service": "Night", "sms": "on", "mms": "on"})
    assert (await problems(admin.add_number(alice, {"number": "+15551230002"})))["number"]
    assert (await problems(admin.add_number(alice, {"number": "12"})))["number"]
    await admin.save_bot(alice, {"name": "Night bot", "message": "Closed"})
    await Numbers(db, DirectoryCache(db, country="US", timezone="UTC")).configure(
        alice, "+15551230002", {"routing": {"type": "bot", "target": "Night bot"}}
    )
    async with db.write() as conn:  # the service has settings of its own, the first number none
        from parley.store.tables import services

        await conn.execute(services.update().values(config={"routing": {"type": "agent", "target": "102"}}))
    rows = {n["number"]: n for n in (await admin.numbers(alice)).items}
    assert rows["+15551230002"]["routing"] == "bot Night bot" and rows["+15551230002"]["mms"] is True
    assert rows["+15551230002"]["partially_configured"] is False
    assert rows["+15551230001"]["partially_configured"] is True
    assert rows["+15551230001"]["routing"] == "agent 102"


async def test_a_bot_in_use_cannot_be_deleted(admin: Admin, db: Database) -> None:
    alice = await user(db, "101")
    await admin.save_bot(alice, {"name": "Night bot", "message": "Closed"})
    assert (await problems(admin.save_bot(alice, {"name": "Night bot", "message": "x"})))["name"]
    await Numbers(db, DirectoryCache(db, country="US", timezone="UTC")).configure(
        alice, "+15551230001", {"routing": {"type": "bot", "target": "Night bot"}}
    )
    with pytest.raises(AdminError, match="number \\+15551230001") as caught:
        await admin.delete_bot(alice, "Night bot")
    assert caught.value.status == 409


async def test_a_user_that_number_settings_name_cannot_be_deleted(admin: Admin, db: Database) -> None:
    alice = await user(db, "101")
    await Numbers(db, DirectoryCache(db, country="US", timezone="UTC")).configure(
        alice, "+15551230001", {"routing": {"type": "agent", "target": "102"}}
    )
    with pytest.raises(AdminError, match="102 is still named by number \\+15551230001") as caught:
        await admin.delete_user(alice, "102")
    assert caught.value.status == 409
    await admin.delete_user(alice, "103")  # named by nothing: goes
    with pytest.raises(AdminError) as gone:
        await admin.delete_user(alice, "103")
    assert gone.value.status == 404


async def test_prices_reuse_provisioning_checks_and_a_changed_prefix_replaces_the_row(
    admin: Admin, db: Database
) -> None:
    alice = await user(db, "101")
    bad = {"prefix": "44", "price": "-1", "currency": "EURO", "mms_price": "free"}
    found = await problems(admin.save_price(alice, bad))
    assert set(found) == {"prefix", "price", "currency", "mms_price"}
    await admin.save_price(alice, {"prefix": "+49", "price": "0.05", "currency": "eur", "mms_price": "0.20"})
    assert (await admin.price(alice, "+49"))["mms_price"] == "0.20"
    await admin.save_price(alice, {"prefix": "+491", "price": "0.06", "currency": "EUR", "mms_price": ""}, "+49")
    prices = {p["prefix"]: p for p in (await admin.prices(alice)).items}
    assert "+49" not in prices
    assert prices["+491"] == {"prefix": "+491", "price": "0.06", "currency": "EUR", "mms_price": ""}  # blank: none
    assert (await problems(admin.save_price(alice, {"prefix": "+1", "price": "1", "currency": "USD"})))["prefix"]


async def test_the_mail2sms_password_is_stored_hashed_and_kept_when_left_blank(admin: Admin, db: Database) -> None:
    alice = await user(db, "101")
    assert (await problems(admin.save_mail2sms(alice, True, "")))["password"]
    await admin.save_mail2sms(alice, True, "mail-secret")
    await admin.save_mail2sms(alice, False, "")
    async with db.read() as conn:
        profile = (await directory.get_settings(conn))["mail2sms"]
    assert profile["enabled"] is False
    assert verify_password(profile["password_hash"], "mail-secret")
    assert await admin.mail2sms(alice) == {"enabled": False, "has_password": True, "allowed_senders": ""}


async def test_a_curl_transport_is_checked_by_the_curl_parser_and_one_is_allowed(admin: Admin, db: Database) -> None:
    alice = await user(db, "101")
    no_text = {"name": "http", "role": "curl", "kind": "curl", "command": "curl https://sms.example/?to={TO_NUMBER}"}
    bad = await problems(admin.transports.save(alice, no_text))
    assert "{MESSAGE}" in bad["command"]
    good = "curl 'https://sms.example/send?to={TO_NUMBER}&text={MESSAGE}&key=s3cret'"
    await admin.transports.save(alice, {"name": "http", "role": "curl", "kind": "curl", "command": good})
    second = await problems(admin.transports.save(alice, {"name": "http2", "role": "curl", "command": good}))
    assert "only one curl SMS server" in second["role"]
    listed = await admin.transports.list_(alice)
    assert listed[0]["state"] == "ready"  # started in this process by the save
    assert "s3cret" not in listed[0]["where"]


async def test_an_smpp_password_left_blank_is_kept_and_never_shown(admin: Admin, db: Database) -> None:
    alice = await user(db, "101")
    form = {"name": "carrier", "role": "carrier", "kind": "smpp", "host": "smsc.example", "port": "2775",
            "system_id": "parley", "password": "secret", "throughput": "50"}  # fmt: skip
    too_long = await problems(admin.transports.save(alice, {**form, "password": "much-too-long"}))
    assert "at most 8" in too_long["password"]
    await admin.transports.save(alice, form)
    await admin.transports.save(alice, {**form, "password": "", "port": "2776"}, "carrier")
    async with db.read() as conn:
        row = (await directory.list_transports(conn))[0]
    assert row.config["password"] == "secret" and row.config["port"] == 2776
    view = await admin.transports.get(alice, "carrier")
    assert view["state"] == "bound" and view["throughput"] == 50.0
    assert "password" not in view["config"]


async def test_a_curl_test_shows_the_http_answer(admin: Admin, db: Database) -> None:
    alice = await user(db, "101")
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        ok = request.url.params["to"] != "+15557654321"
        return httpx.Response(200 if ok else 400, text="queued" if ok else "bad number")

    command = "curl 'https://sms.example/send?to={TO_NUMBER}&text={MESSAGE}'"
    await admin.transports.save(alice, {"name": "http", "role": "curl", "kind": "curl", "command": command})
    sent = await admin.transports.send_test(alice, "http", "(555) 765-4320", "hi", http=httpx.MockTransport(answer))
    assert (sent.ok, sent.status, sent.body, sent.summary) == (True, 200, "queued", "HTTP 200 OK")
    assert seen[0].url.params["to"] == "+15557654320"
    refused = await admin.transports.send_test(alice, "http", "+15557654321", http=httpx.MockTransport(answer))
    assert (refused.ok, refused.status, refused.body) == (False, 400, "bad number")
    assert (await problems(admin.transports.send_test(alice, "http", "nope")))["to"]


async def test_an_smpp_test_goes_through_the_running_bound_channel(admin: Admin, db: Database) -> None:
    alice = await user(db, "101")
    form = {"name": "carrier", "role": "carrier", "kind": "smpp", "host": "smsc.example", "system_id": "parley"}
    await admin.transports.save(alice, form)
    outcome = await admin.transports.send_test(alice, "carrier", "+15557654321")
    assert outcome.ok and "abc123" in outcome.summary
    await admin.transports.delete(alice, "carrier")
    assert await admin.transports.list_(alice) == []


async def test_a_bots_whatsapp_template_is_saved_shown_and_checked_by_field(admin: Admin, db: Database) -> None:
    alice = await user(db, "101")
    form = {"name": "Night bot", "message": "Closed", "template_name": "we_are_closed",
            "template_language": "it_IT", "template_variables": "Support\n 9am \n"}  # fmt: skip
    await admin.save_bot(alice, form)
    (bot,) = await admin.bots(alice)
    assert bot == {"name": "Night bot", "message": "Closed", "template_name": "we_are_closed",
                   "template_language": "it_IT", "template_variables": "Support\n9am"}  # fmt: skip
    bad = {**form, "template_language": "x"}
    assert (await problems(admin.save_bot(alice, bad, "Night bot")))["template_language"]
    await admin.save_bot(alice, {"message": "Closed", "template_name": ""}, "Night bot")  # no name: no template
    assert (await admin.bots(alice))[0]["template_name"] == ""
