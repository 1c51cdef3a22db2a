"""Sender IDs by country through the native API and the console (issue 14 §3)."""

from __future__ import annotations

import io
from pathlib import Path

import sqlalchemy as sa

from parley.bootstrap import utcnow
from parley.core.provisioning import parse
from parley.services.provisioning import apply
from parley.store.tables import campaign_recipients, messages
from tests.support.app import ALICE, BOB, console_client, in_process
from tests.support.provisioning import document

RULES = [
    {"country": "IT", "registered": ["ACME"], "otherwise": "office_number"},
    {"country": "FR", "registered": ["ACME"], "otherwise": "refuse"},
]


async def test_an_unregistered_sender_id_falls_back_to_the_office_number_and_the_answer_says_so(
    tmp_path: Path,
) -> None:
    async with in_process(tmp_path, document(sender_id_rules=RULES)) as app, app.client(ALICE) as api:
        sent = await api.post("/api/v2/messages", json={"to": ["+393331234567", "+33612345678"], "text": "Ciao"})
        assert sent.status_code == 201, sent.text
        body = sent.json()
        assert [(m["to"], m["from"]) for m in body["messages"]] == [("+393331234567", "+15551230001")]
        assert body["refused"] == [
            {"to": "+33612345678",
             "reason": 'sender ID "Alice Smith" is not registered for FR; this country refuses unregistered sender IDs'}
        ]  # fmt: skip
        assert body["warnings"] == [
            '+393331234567: sender ID "Alice Smith" is not registered for IT; sent from the office number +15551230001'
        ]


async def test_a_send_to_italy_from_a_given_name_warns_of_phishing_filters(tmp_path: Path) -> None:
    users = document()["users"]
    users[1] = {**users[1], "name": "Federica Bianchi"}
    async with in_process(tmp_path, document(users=users)) as app, app.client(BOB) as api:
        sent = await api.post("/api/v2/messages", json={"to": "+393331234567", "text": "Ciao"})
        assert sent.status_code == 201, sent.text
        assert sent.json()["messages"][0]["from"] == "Federica Bi"
        [warning] = sent.json()["warnings"]
        assert warning == (
            '+393331234567: sender ID "Federica Bi" is a given name (Federica); carriers in IT may filter it as '
            "phishing"
        )
        elsewhere = await api.post("/api/v2/messages", json={"to": "+4915112345678", "text": "Hallo"})
        assert elsewhere.json()["warnings"] == []


async def test_only_refused_destinations_are_a_422_naming_the_field(tmp_path: Path) -> None:
    async with in_process(tmp_path, document(sender_id_rules=RULES)) as app, app.client(BOB) as api:
        refused = await api.post("/api/v2/messages", json={"to": "+393331234567", "text": "Ciao"})
        assert refused.status_code == 422
        assert "to" in refused.text and "no office number" in refused.text


async def test_an_admin_edits_the_country_table_in_the_console(tmp_path: Path) -> None:
    async with in_process(tmp_path, document()) as app, console_client(app, ALICE) as (alice, csrf):
        page = await alice.get("/admin/sender-ids")
        assert page.status_code == 200 and "Sender IDs by country" in page.text
        bad = await alice.post("/admin/sender-ids", data={"csrf": csrf, "country": "XX", "registered": "ACME",
                                                          "otherwise": "refuse"})  # fmt: skip
        assert bad.status_code == 422 and "is not an ISO 3166 country code" in bad.text and "aria-invalid" in bad.text
        saved = await alice.post("/admin/sender-ids", data={"csrf": csrf, "country": "fr", "registered": "ACME, Shop",
                                                            "otherwise": "refuse"})  # fmt: skip
        assert saved.status_code == 303, saved.text
        listed = await alice.get("/admin/sender-ids")
        assert "FR" in listed.text and "ACME, Shop" in listed.text
        app.parley.cache.invalidate()
        async with app.client(ALICE) as api:
            refused = await api.post("/api/v2/messages", json={"to": "+33612345678", "text": "Salut"})
        assert refused.status_code == 422 and "not registered for FR" in refused.text
        deleted = await alice.post("/admin/sender-ids/FR/delete", data={"csrf": csrf})
        assert deleted.status_code == 303
        assert "ACME, Shop" not in (await alice.get("/admin/sender-ids")).text


async def test_the_admin_user_page_warns_of_a_given_name_sender_id(tmp_path: Path) -> None:
    users = document()["users"]
    users[1] = {**users[1], "name": "Marco Rossi"}
    async with in_process(tmp_path, document(users=users)) as app, console_client(app, ALICE) as (alice, _):
        page = await alice.get("/admin/users/102")
        assert page.status_code == 200
        assert "carriers in IT may filter it as phishing" in page.text
        assert "phishing" not in (await alice.get("/admin/users/103")).text


async def test_the_console_send_page_says_when_the_office_number_was_used(tmp_path: Path) -> None:
    async with (
        in_process(tmp_path, document(sender_id_rules=RULES)) as app,
        console_client(app, ALICE) as (alice, csrf),
    ):
        sent = await alice.post("/send", data={"csrf": csrf, "numbers": "+393331234567", "text": "Ciao"})
        assert sent.status_code == 200, sent.text
        assert "is not registered for IT; sent from the office number +15551230001" in sent.text


async def test_an_alphanumeric_campaign_follows_the_country_rules(tmp_path: Path) -> None:
    rules = [
        {"country": "IT", "registered": ["ACME"]},
        {"country": "FR", "registered": ["SHOP"], "otherwise": "refuse"},
    ]
    async with in_process(tmp_path, document(sender_id_rules=rules)) as app:
        parley = app.parley
        alice = await parley.cache.user("101")
        assert alice is not None
        csv = io.BytesIO(b"number\n+393331234567\n+33612345678\n+4915112345678\n")
        draft = await parley.campaigns.create(alice, {"name": "C", "sender_type": "alphanumeric", "sender": "Promo",
                                                      "message": "Hi", "rating_extension": "101"})  # fmt: skip
        await parley.campaigns.upload(alice, draft["id"], csv)
        await parley.campaigns.start(alice, draft["id"])
        await parley.campaign_runner.tick()
        async with parley.db.read() as conn:
            rows = (await conn.execute(sa.select(campaign_recipients.c.number, campaign_recipients.c.state,
                                                 campaign_recipients.c.reason, messages.c.sender)
                                       .outerjoin(messages, messages.c.id == campaign_recipients.c.message_id)
                                       .order_by(campaign_recipients.c.number))).all()  # fmt: skip
        assert [tuple(r) for r in rows] == [
            ("+33612345678", "skipped",
             'sender ID "Promo" is not registered for FR; this country refuses unregistered sender IDs', None),
            ("+393331234567", "queued",
             'sender ID "Promo" is not registered for IT; sent from the office number +15551230001', "+15551230001"),
            ("+4915112345678", "queued", None, "Promo"),
        ]  # fmt: skip


async def test_applying_the_rules_again_changes_nothing_and_prune_removes_a_country(tmp_path: Path) -> None:
    async with in_process(tmp_path, document(sender_id_rules=RULES, sender_id_names={"IT": ["Ornella"]})) as app:
        again = await apply(app.parley.db, parse(document(sender_id_rules=RULES, sender_id_names={"IT": ["Ornella"]})),
                            now=utcnow())  # fmt: skip
        assert again.counts["sender_id_rules.unchanged"] == 2 and again.counts["sender_id_names.unchanged"] == 1
        pruned = await apply(app.parley.db, parse(document(sender_id_rules=RULES[:1])), now=utcnow(), prune=True)
        assert pruned.counts["sender_id_rules.removed"] == 1
        app.parley.cache.invalidate()
        assert set((await app.parley.cache.config()).sender_rules.countries) == {"IT"}
        assert "ornella" in (await app.parley.cache.config()).sender_rules.filtered_names["IT"]
