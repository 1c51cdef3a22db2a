"""The Twilio-compatible Messages API through the real application (ASGI, in process) on SQLite and PostgreSQL
(issue 13 §3): every field of the answer, every refusal with Twilio's code, paging, cancel and delete."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from parley.bootstrap import Parley, build
from parley.core.messaging_service_sids import messaging_service_sid
from parley.core.twilio_ids import message_id
from parley.services.send import outbound_row
from parley.settings import Settings
from parley.store.db import Database
from parley.store.messages import add_all, set_status
from parley.store.optouts import set_optout
from parley.store.tables import messages
from tests.conftest import Clock
from tests.support.app import client
from tests.support.provisioning import BASE, provision

ALICE, BOB = ("101", "sms101api"), ("102", "bob-secret")  # Alice is an admin, Bob is not
CUSTOMER = "+15557654321"
BOB_OFFICE, SUPPORT, SALES = "+15551230002", "+15551230001", "+15551230003"
USERS = [{**u, "office_number": BOB_OFFICE} if u["extension"] == "102" else u for u in BASE["users"]]
SERVICES = [*BASE["services"], {"name": "Sales", "static_members": ["101"], "sms_number": SALES}]
RFC2822 = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000")


@pytest.fixture
async def parley(db: Database, db_url: str, clock: Clock) -> AsyncIterator[Parley]:
    await provision(db, clock(), users=USERS, services=SERVICES)
    app = build(Settings(database_url=db_url, smtp="", secret="installation-secret"), clock=clock)
    try:
        yield app
    finally:
        await app.close()


async def new_key(parley: Parley, who: tuple[str, str] = BOB, scopes: tuple[str, ...] = ("send", "read")) -> Any:
    async with client(parley, auth=who) as http:
        answer = await http.post("/api/v2/api-keys", json={"name": "twilio", "scopes": list(scopes)})
    assert answer.status_code == 201, answer.text
    return answer.json()


class Twilio:
    """Requests as twilio-python makes them: form bodies, HTTP Basic with the key SID and secret."""

    def __init__(self, http: httpx.AsyncClient, account: str) -> None:
        self.http = http
        self.base = f"/2010-04-01/Accounts/{account}"

    async def create(self, **fields: Any) -> httpx.Response:
        return await self.http.post(f"{self.base}/Messages.json", data=fields)

    async def list(self, **params: Any) -> httpx.Response:
        return await self.http.get(f"{self.base}/Messages.json", params=params)


@asynccontextmanager
async def twilio(parley: Parley, key: Any | None = None) -> AsyncIterator[Twilio]:
    key = key or await new_key(parley)
    async with client(parley, auth=(key["id"], key["secret"])) as http:
        yield Twilio(http, key["account_sid"])


async def test_a_send_answers_twilios_message_resource(parley: Parley, db: Database, clock: Clock) -> None:
    key = await new_key(parley)
    async with twilio(parley, key) as tw:
        answer = await tw.create(To=CUSTOMER, From=BOB_OFFICE, Body="Hello from a Twilio script",
                                 StatusCallback="https://crm.example.com/status")  # fmt: skip
    assert answer.status_code == 201, answer.text
    m = answer.json()
    account = key["account_sid"]
    assert re.fullmatch(r"SM[0-9a-f]{32}", m["sid"])
    assert m == {
        "sid": m["sid"], "account_sid": account, "messaging_service_sid": None, "api_version": "2010-04-01",
        "from": BOB_OFFICE, "to": CUSTOMER, "body": "Hello from a Twilio script", "status": "queued",
        "direction": "outbound-api", "num_segments": "1", "num_media": "0", "price": None, "price_unit": None,
        "error_code": None, "error_message": None, "date_created": "Tue, 24 Nov 2026 12:00:00 +0000",
        "date_updated": "Tue, 24 Nov 2026 12:00:00 +0000", "date_sent": None,
        "uri": f"/2010-04-01/Accounts/{account}/Messages/{m['sid']}.json",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{account}/Messages/{m['sid']}/Media.json",
                             "feedback": f"/2010-04-01/Accounts/{account}/Messages/{m['sid']}/Feedback.json"},
    }  # fmt: skip
    async with db.read() as conn:
        row = (await conn.execute(sa.select(messages).where(messages.c.id == message_id(m["sid"])))).one()
    assert (row.source, row.status_callback, row.callback_format, row.api_key_id) == (
        "twilio", "https://crm.example.com/status", "twilio", key["id"])  # fmt: skip


async def test_a_send_without_callback_stores_none_and_a_fetch_answers_the_same(parley: Parley, db: Database) -> None:
    async with twilio(parley) as tw:
        created = (await tw.create(To=CUSTOMER, From=BOB_OFFICE, Body="Hi")).json()
        fetched = await tw.http.get(created["uri"])
    assert fetched.status_code == 200
    assert fetched.json() == created
    async with db.read() as conn:
        row = (await conn.execute(sa.select(messages))).one()
    assert (row.status_callback, row.callback_format) == (None, None)


async def test_a_messaging_service_sid_sends_from_the_services_number(parley: Parley) -> None:
    key = await new_key(parley)
    service = messaging_service_sid(key["account_sid"], 1)
    async with twilio(parley, key) as tw:
        answer = await tw.create(To=CUSTOMER, MessagingServiceSid=service, Body="From Support")
    assert answer.status_code == 201, answer.text
    assert (answer.json()["from"], answer.json()["messaging_service_sid"]) == (SUPPORT, service)


async def test_a_from_that_is_a_services_number_names_its_service(parley: Parley) -> None:
    key = await new_key(parley)
    async with twilio(parley, key) as tw:
        answer = await tw.create(To=CUSTOMER, From=SUPPORT, Body="From Support")
    assert answer.json()["messaging_service_sid"] == messaging_service_sid(key["account_sid"], 1)


async def test_an_alphanumeric_from_is_the_users_sender_id_outside_plus_one(parley: Parley) -> None:
    async with twilio(parley) as tw:
        ok = await tw.create(To="+447700900123", From="Bob Jones", Body="Hello UK")
        us = await tw.create(To=CUSTOMER, From="Bob Jones", Body="Hello US")
        other = await tw.create(To="+447700900123", From="Bank", Body="Hello UK")
    assert ok.status_code == 201, ok.text
    assert ok.json()["from"] == "Bob Jones"
    assert (us.status_code, us.json()["code"]) == (400, 21606)
    assert (other.status_code, other.json()["code"]) == (400, 21606)


async def test_an_unencoded_plus_in_a_form_is_read_as_plus(parley: Parley) -> None:
    async with twilio(parley) as tw:
        raw = f"To=+{CUSTOMER[1:]}&From=+{BOB_OFFICE[1:]}&Body=x"
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        answer = await tw.http.post(f"{tw.base}/Messages.json", content=raw, headers=form)
    assert answer.status_code == 201, answer.text
    assert (answer.json()["to"], answer.json()["from"]) == (CUSTOMER, BOB_OFFICE)


async def test_a_scheduled_send_starts_scheduled_and_can_be_canceled(parley: Parley, clock: Clock) -> None:
    send_at = (clock() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with twilio(parley) as tw:
        created = await tw.create(To=CUSTOMER, From=BOB_OFFICE, Body="Later", ScheduleType="fixed", SendAt=send_at)
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "scheduled"
        canceled = await tw.http.post(created.json()["uri"], data={"Status": "canceled"})
        again = await tw.http.post(created.json()["uri"], data={"Status": "canceled"})
        fetched = await tw.http.get(created.json()["uri"])
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert again.json()["status"] == "canceled"  # canceling twice changes nothing
    assert fetched.json()["status"] == "canceled"


async def test_a_message_that_is_not_scheduled_cannot_be_canceled(parley: Parley) -> None:
    async with twilio(parley) as tw:
        created = (await tw.create(To=CUSTOMER, From=BOB_OFFICE, Body="Now")).json()
        answer = await tw.http.post(created["uri"], data={"Status": "canceled"})
        other = await tw.http.post(created["uri"], data={"Status": "sent"})
    assert (answer.status_code, answer.json()["code"]) == (400, 30409)
    assert (other.status_code, other.json()["code"]) == (400, 20001)


async def test_delete_removes_a_finished_message_and_refuses_one_in_flight(parley: Parley) -> None:
    async with twilio(parley) as tw:
        queued = (await tw.create(To=CUSTOMER, From=BOB_OFFICE, Body="Now")).json()
        in_flight = await tw.http.delete(queued["uri"])
        later = await tw.create(
            To=CUSTOMER, From=BOB_OFFICE, Body="Later", ScheduleType="fixed", SendAt="2026-11-25T09:00:00Z"
        )
        scheduled = later.json()
        refused = await tw.http.delete(scheduled["uri"])
        await tw.http.post(scheduled["uri"], data={"Status": "canceled"})
        deleted = await tw.http.delete(scheduled["uri"])
        gone = await tw.http.get(scheduled["uri"])
        gone_twice = await tw.http.delete(scheduled["uri"])
    assert (in_flight.status_code, in_flight.json()["code"]) == (409, 20009)
    assert (refused.status_code, refused.json()["code"]) == (409, 20009)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (gone.status_code, gone.json()["code"]) == (404, 20404)
    assert gone_twice.status_code == 404


REFUSALS = [
    pytest.param({"From": BOB_OFFICE, "Body": "x"}, 21604, id="no-to"),
    pytest.param({"To": "+1555", "From": BOB_OFFICE, "Body": "x"}, 21211, id="invalid-to"),
    pytest.param({"To": "whatsapp:+15557654321", "From": BOB_OFFICE, "Body": "x"}, 21211, id="whatsapp-to"),
    pytest.param({"To": CUSTOMER, "From": BOB_OFFICE}, 21602, id="no-body"),
    pytest.param({"To": CUSTOMER, "From": BOB_OFFICE, "Body": "   "}, 21602, id="blank-body"),
    pytest.param({"To": CUSTOMER, "From": BOB_OFFICE, "Body": "x" * 1601}, 21617, id="body-over-1600"),
    pytest.param({"To": CUSTOMER, "From": BOB_OFFICE, "Body": "x" * 700}, 21617, id="body-over-parleys-limit"),
    pytest.param({"To": CUSTOMER, "Body": "x"}, 21603, id="no-from"),
    pytest.param({"To": CUSTOMER, "From": SALES, "Body": "x"}, 21606, id="from-another-service"),
    pytest.param({"To": CUSTOMER, "From": "+15559999999", "Body": "x"}, 21606, id="from-unknown-number"),
    pytest.param({"To": CUSTOMER, "From": "++", "Body": "x"}, 21606, id="from-not-a-number"),
    pytest.param({"To": CUSTOMER, "MessagingServiceSid": "MG" + "0" * 32, "Body": "x"}, 21701, id="unknown-service"),
    pytest.param({"To": CUSTOMER, "MessagingServiceSid": "MGnope", "Body": "x"}, 21701, id="malformed-service"),
    pytest.param(
        {"To": CUSTOMER, "From": BOB_OFFICE, "Body": "x", "StatusCallback": "ftp://x.example/"},
        21609,
        id="callback-not-http",
    ),
    pytest.param(
        {"To": CUSTOMER, "From": BOB_OFFICE, "Body": "x", "StatusCallback": "https://"},
        21609,
        id="callback-without-host",
    ),
    pytest.param(
        {"To": CUSTOMER, "From": BOB_OFFICE, "Body": "x", "StatusCallback": "http://10.0.0.7/status"},
        21609,
        id="callback-to-a-private-address",  # server-side request forgery: refused unless allow_private says so
    ),
    pytest.param(
        {"To": CUSTOMER, "From": BOB_OFFICE, "MediaUrl": "https://cdn.example.com/a.jpg"}, 21620, id="media-elsewhere"
    ),
    pytest.param(
        {"To": CUSTOMER, "From": BOB_OFFICE, "Body": "x", "ScheduleType": "fixed"}, 35111, id="schedule-without-send-at"
    ),
    pytest.param(
        {"To": CUSTOMER, "From": BOB_OFFICE, "Body": "x", "SendAt": "2026-11-24T15:00:00Z"},
        35111,
        id="send-at-without-schedule-type",
    ),
    pytest.param(
        {"To": CUSTOMER, "From": BOB_OFFICE, "Body": "x", "ScheduleType": "later", "SendAt": "2026-11-24T15:00:00Z"},
        35111,
        id="schedule-type-not-fixed",
    ),
    pytest.param(
        {"To": CUSTOMER, "From": BOB_OFFICE, "Body": "x", "ScheduleType": "fixed", "SendAt": "tomorrow"},
        35114,
        id="send-at-not-a-time",
    ),
    pytest.param(
        {"To": CUSTOMER, "From": BOB_OFFICE, "Body": "x", "ScheduleType": "fixed", "SendAt": "2026-11-24T12:04:00Z"},
        35114,
        id="send-at-too-soon",
    ),
    pytest.param(
        {"To": CUSTOMER, "From": BOB_OFFICE, "Body": "x", "ScheduleType": "fixed", "SendAt": "2027-01-05T12:00:00Z"},
        35114,
        id="send-at-too-far",
    ),
    pytest.param(
        {"To": CUSTOMER, "Body": "x", "ScheduleType": "fixed", "SendAt": "2026-11-24T15:00:00Z"},
        35118,
        id="schedule-without-sender",
    ),
]


@pytest.mark.parametrize(("fields", "code"), REFUSALS)
async def test_a_bad_send_is_refused_with_twilios_code(parley: Parley, fields: dict[str, str], code: int) -> None:
    async with twilio(parley) as tw:
        answer = await tw.create(**fields)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert (body["code"], body["status"]) == (code, 400)
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert body["message"]


async def test_a_recipient_who_said_stop_is_refused_with_21610(parley: Parley, db: Database, clock: Clock) -> None:
    async with db.write() as conn:
        await set_optout(conn, BOB_OFFICE, CUSTOMER, opted_out=True, keyword="STOP", now=clock())
    async with twilio(parley) as tw:
        answer = await tw.create(To=CUSTOMER, From=BOB_OFFICE, Body="Still there?")
        other = await tw.create(To=CUSTOMER, From=SUPPORT, Body="Support here")  # another number: no opt-out
    assert (answer.status_code, answer.json()["code"]) == (400, 21610)
    assert other.status_code == 201


async def test_a_basic_license_is_refused_with_20403(parley: Parley) -> None:
    async with client(parley, auth=ALICE) as http:
        made = await http.post("/api/v2/api-keys", json={"name": "c", "scopes": ["send"], "user": "103"})
    key = made.json()
    async with twilio(parley, key) as tw:
        answer = await tw.create(To="+447700900123", From="Carl Basic", Body="x")
    assert (answer.status_code, answer.json()["code"]) == (403, 20403)


async def test_credentials_are_a_key_of_this_account_with_the_scope(parley: Parley) -> None:
    key = await new_key(parley)
    reader = await new_key(parley, scopes=("read",))
    path = f"/2010-04-01/Accounts/{key['account_sid']}/Messages.json"
    form = {"To": CUSTOMER, "From": BOB_OFFICE, "Body": "x"}
    async with client(parley) as http:
        none = await http.post(path, data=form)
        wrong = await http.post(path, data=form, auth=(key["id"], "psk_" + "W" * 43))
        password = await http.post(path, data=form, auth=BOB)
        read_only = await http.post(path, data=form, auth=(reader["id"], reader["secret"]))
        reads = await http.get(path, auth=(reader["id"], reader["secret"]))
        bearer = await http.get(path, headers={"Authorization": f"Bearer {key['secret']}"})
        other = await http.get(path.replace(key["account_sid"], "AC" + "0" * 32), auth=(key["id"], key["secret"]))
    for answer in (none, wrong, password):
        assert (answer.status_code, answer.json()["code"]) == (401, 20003)
        assert answer.headers["WWW-Authenticate"].startswith("Basic")
    assert (read_only.status_code, read_only.json()["code"]) == (403, 20403)
    assert reads.status_code == 200 and bearer.status_code == 200
    assert (other.status_code, other.json()["code"]) == (404, 20404)


async def test_a_user_sees_only_his_messages_and_an_admin_key_sees_all(parley: Parley) -> None:
    async with twilio(parley) as bob:
        mine = (await bob.create(To=CUSTOMER, From=BOB_OFFICE, Body="Bob's")).json()
    admin = await new_key(parley, ALICE, ("send", "read", "admin"))
    async with twilio(parley, admin) as alice:
        theirs = (await alice.create(To=CUSTOMER, From=SALES, Body="Alice's")).json()
        everyone = (await alice.list()).json()
    async with twilio(parley) as bob:
        own = (await bob.list()).json()
        hidden = await bob.http.get(theirs["uri"])
    assert [m["sid"] for m in everyone["messages"]] == [theirs["sid"], mine["sid"]]
    assert [m["sid"] for m in own["messages"]] == [mine["sid"]]
    assert (hidden.status_code, hidden.json()["code"]) == (404, 20404)


@pytest.mark.parametrize("sid", ["SMnope", "SM" + "0" * 32, "MM" + "0" * 32, "..", "SM%2F"])
async def test_an_unknown_sid_is_20404(parley: Parley, sid: str) -> None:
    async with twilio(parley) as tw:
        answer = await tw.http.get(f"{tw.base}/Messages/{sid}.json")
        deleted = await tw.http.delete(f"{tw.base}/Messages/{sid}.json")
    assert (answer.status_code, answer.json()["code"]) == (404, 20404)
    assert (deleted.status_code, deleted.json()["code"]) == (404, 20404)


async def test_lists_page_by_page_forward_and_back(parley: Parley, clock: Clock) -> None:
    async with twilio(parley) as tw:
        sids = []
        for n in range(5):
            sids.append((await tw.create(To=CUSTOMER, From=BOB_OFFICE, Body=f"n{n}")).json()["sid"])
            clock.advance(seconds=1)
        newest_first = list(reversed(sids))
        first = (await tw.list(PageSize=2)).json()
        second = (await tw.http.get(first["next_page_uri"])).json()
        third = (await tw.http.get(second["next_page_uri"])).json()
        back = (await tw.http.get(third["previous_page_uri"])).json()
        again = (await tw.http.get(third["first_page_uri"])).json()
    assert [m["sid"] for m in first["messages"]] == newest_first[:2]
    assert [m["sid"] for m in second["messages"]] == newest_first[2:4]
    assert [m["sid"] for m in third["messages"]] == newest_first[4:]
    assert [m["sid"] for m in back["messages"]] == newest_first[2:4]
    assert again["messages"] == first["messages"]
    assert (first["page"], first["page_size"], first["start"], first["end"]) == (0, 2, 0, 1)
    assert (second["page"], second["start"], second["end"]) == (1, 2, 3)
    assert (third["page"], third["start"], third["end"]) == (2, 4, 4)
    assert first["previous_page_uri"] is None and third["next_page_uri"] is None
    assert back["page"] == 1
    assert first["uri"].startswith(first["first_page_uri"].split("?")[0])
    query = parse_qs(urlsplit(second["next_page_uri"]).query)
    assert query["PageSize"] == ["2"] and query["Page"] == ["2"] and query["PageToken"][0].startswith("PA")


async def test_lists_filter_by_to_from_and_date_sent(parley: Parley, clock: Clock) -> None:
    other = "+15550001111"
    async with twilio(parley) as tw:
        a = (await tw.create(To=CUSTOMER, From=BOB_OFFICE, Body="a")).json()  # 2026-11-24 12:00
        clock.advance(days=1)
        b = (await tw.create(To=other, From=SUPPORT, Body="b")).json()  # 2026-11-25 12:00
        by_to = (await tw.list(To=other)).json()
        by_from = (await tw.list(From=BOB_OFFICE)).json()
        on_day = (await tw.list(DateSent="2026-11-24")).json()
        before = (await tw.list(**{"DateSent<": "2026-11-24T23:59:59Z"})).json()
        after = (await tw.list(**{"DateSent>": "2026-11-25"})).json()
        both = (await tw.list(**{"DateSent>": "2026-11-24", "DateSent<": "2026-11-25"})).json()
        paged = (await tw.list(To=other, PageSize=1)).json()
        bad = await tw.list(DateSent="yesterday")
        bad_size = await tw.list(PageSize="0")
        bad_token = await tw.list(PageToken="PZ123")
    assert [m["sid"] for m in by_to["messages"]] == [b["sid"]]
    assert [m["sid"] for m in by_from["messages"]] == [a["sid"]]
    assert [m["sid"] for m in on_day["messages"]] == [a["sid"]]
    assert [m["sid"] for m in before["messages"]] == [a["sid"]]
    assert [m["sid"] for m in after["messages"]] == [b["sid"]]
    assert [m["sid"] for m in both["messages"]] == [b["sid"], a["sid"]]
    assert "To=%2B15550001111" in paged["uri"] and paged["next_page_uri"] is None
    for answer in (bad, bad_size, bad_token):
        assert (answer.status_code, answer.json()["code"]) == (400, 20001)


async def test_list_answers_dates_in_rfc_2822(parley: Parley) -> None:
    async with twilio(parley) as tw:
        await tw.create(To=CUSTOMER, From=BOB_OFFICE, Body="x")
        listed = (await tw.list()).json()
    m = listed["messages"][0]
    assert RFC2822.fullmatch(m["date_created"]) and RFC2822.fullmatch(m["date_updated"])
    assert set(listed) == {"messages", "page", "page_size", "start", "end", "uri", "first_page_uri",
                           "next_page_uri", "previous_page_uri"}  # fmt: skip


async def test_the_services_api_shows_each_services_messaging_service_sid(parley: Parley) -> None:
    key = await new_key(parley)
    async with client(parley, auth=BOB) as bob, client(parley, auth=ALICE) as alice:
        bobs = await bob.get("/api/v2/services")
        all_ = await alice.get("/api/v2/services")
    async with client(parley, auth=(key["id"], key["secret"])) as with_key:
        by_key = await with_key.get("/api/v2/services")
    support = {"name": "Support", "sms_number": SUPPORT,
               "messaging_service_sid": messaging_service_sid(key["account_sid"], 1)}  # fmt: skip
    sales = {
        "name": "Sales",
        "sms_number": SALES,
        "messaging_service_sid": messaging_service_sid(key["account_sid"], 2),
    }
    assert bobs.json() == [support] and by_key.json() == [support]
    assert all_.json() == [support, sales]


async def test_a_canceled_message_gives_its_segments_back_and_costs_nothing(
    parley: Parley, db: Database, clock: Clock
) -> None:
    admin = await new_key(parley, ALICE)  # Alice's package is 2 segments: the third is charged
    async with twilio(parley, admin) as tw:
        for _ in range(2):
            await tw.create(To=CUSTOMER, From=SUPPORT, Body="in the package")
        later = (await tw.create(To=CUSTOMER, From=SUPPORT, Body="charged", ScheduleType="fixed",
                                 SendAt="2026-11-25T09:00:00Z")).json()  # fmt: skip
        assert later["price"] == "-0.0079"
        canceled = (await tw.http.post(later["uri"], data={"Status": "canceled"})).json()
        after = (await tw.create(To=CUSTOMER, From=SUPPORT, Body="charged again")).json()
    assert (canceled["price"], canceled["price_unit"]) == (None, None)
    assert after["price"] == "-0.0079"  # the package is still used up by the first two
    async with db.read() as conn:
        used = await conn.scalar(sa.text("select segments from usage"))
    assert used == 3


async def test_wrong_secrets_are_throttled_with_20429(parley: Parley) -> None:
    key = await new_key(parley)
    path = f"/2010-04-01/Accounts/{key['account_sid']}/Messages.json"
    async with client(parley, "192.0.2.7") as attacker:
        for _ in range(3):
            assert (await attacker.get(path, auth=(key["id"], "guess"))).status_code == 401
        refused = await attacker.get(path, auth=(key["id"], key["secret"]))
    assert (refused.status_code, refused.json()["code"]) == (429, 20429)
    assert int(refused.headers["Retry-After"]) > 0


TWILIO_CARRIER = {"name": "twilio", "role": "carrier", "kind": "twilio", "account_sid": "AC" + "1" * 32,
                  "auth_token": "integration-token", "api_base": "http://127.0.0.1:9"}  # fmt: skip
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 64


@pytest.fixture
async def mms_parley(db: Database, db_url: str, clock: Clock, tmp_path: Any) -> AsyncIterator[Parley]:
    numbers = [{"number": SUPPORT, "sms": True, "mms": True, "linked_service": "Support", "carrier": "twilio"}]
    await provision(db, clock(), users=USERS, numbers=numbers, transports=[TWILIO_CARRIER])
    settings = Settings(database_url=db_url, smtp="", secret="installation-secret", media_dir=str(tmp_path / "m"))
    app = build(settings, clock=clock)
    try:
        yield app
    finally:
        await app.close()


async def test_a_media_url_of_an_uploaded_file_sends_it_as_mms(mms_parley: Parley, db: Database) -> None:
    async with twilio(mms_parley) as tw:
        stored = await tw.http.post("/api/v2/media", files={"file": ("dot.png", PNG, "image/png")})
        assert stored.status_code == 201, stored.text
        url = f"http://parley.test/api/v2/media/{stored.json()['id']}"
        answer = await tw.create(To=CUSTOMER, From=SUPPORT, Body="Look", MediaUrl=url)
        fetched = (await tw.http.get(answer.json()["uri"])).json()
    assert answer.status_code == 201, answer.text
    assert (answer.json()["num_media"], fetched["num_media"]) == ("1", "1")
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(messages.c.channel, messages.c.body).order_by(messages.c.id))).all()
    assert sorted((r.channel, r.body) for r in rows) == [("mms", ""), ("sms", "Look")]


async def test_an_inbound_message_is_listed_as_inbound_and_received(parley: Parley, db: Database, clock: Clock) -> None:
    row = outbound_row(sender=CUSTOMER, to=SUPPORT, text="Hi there", now=clock(), user_id=None, source="smpp")
    async with db.write() as conn:
        await add_all(conn, [{**row, "direction": "in", "status": "received"}])
    admin = await new_key(parley, ALICE, ("read", "admin"))
    async with twilio(parley, admin) as tw:
        listed = (await tw.list()).json()
    m = listed["messages"][0]
    assert (m["direction"], m["status"], m["from"], m["to"]) == ("inbound", "received", CUSTOMER, SUPPORT)
    assert m["date_sent"] == m["date_created"] == "Tue, 24 Nov 2026 12:00:00 +0000"
    assert m["messaging_service_sid"] == messaging_service_sid(admin["account_sid"], 1)


async def test_date_sent_and_errors_follow_the_messages_statuses(parley: Parley, db: Database, clock: Clock) -> None:
    async with twilio(parley) as tw:
        sent = (await tw.create(To=CUSTOMER, From=BOB_OFFICE, Body="one")).json()
        failed = (await tw.create(To=CUSTOMER, From=BOB_OFFICE, Body="two")).json()
        async with db.write() as conn:
            later = clock.advance(seconds=5)
            await set_status(conn, [{"id": message_id(sent["sid"]), "status": "sent"}], now=later)
            await set_status(conn, [{"id": message_id(failed["sid"]), "status": "failed", "error": "Carrier said no",
                                     "error_code": "30007"}], now=later)  # fmt: skip
            await set_status(
                conn, [{"id": message_id(sent["sid"]), "status": "delivered"}], now=clock.advance(seconds=5)
            )
        one = (await tw.http.get(sent["uri"])).json()
        two = (await tw.http.get(failed["uri"])).json()
    assert (one["status"], one["date_sent"], one["date_updated"]) == (
        "delivered", "Tue, 24 Nov 2026 12:00:05 +0000", "Tue, 24 Nov 2026 12:00:10 +0000")  # fmt: skip
    assert (two["status"], two["error_code"], two["error_message"], two["date_sent"]) == (
        "failed", 30007, "Carrier said no", None)  # fmt: skip
