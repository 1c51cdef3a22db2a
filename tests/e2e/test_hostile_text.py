"""Issue 9 §1 on a real server over PostgreSQL: a NUL in one request never fails, delays or loses the others.

Before: a text with U+0000 passed validation and failed only at PostgreSQL, taking its whole group commit with it
(61 of 100 normal requests answered 500), and an MO with a NUL was refused on every redelivery, losing the MOs that
shared its batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.mail import deliver
from tests.support.provisioning import document
from tests.support.server import ParleyServer, wait_until
from tests.support.smsc import SmscSimulator

ALICE = ("101", "sms101api")
COMPANY, CUSTOMER = "+15551230001", "+15557654321"
NORMAL = 20


@pytest.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    async with SmscSimulator(port=0, system_id="parley", password="secret") as simulator:
        yield simulator


@pytest.fixture
async def server(tmp_path: Path, fresh_pg_url: str, smsc: SmscSimulator) -> AsyncIterator[ParleyServer]:
    parley = ParleyServer(tmp_path, database_url=fresh_pg_url)
    doc = document(mail2sms={"enabled": True, "password": "wildix-pass"})
    doc["numbers"] = [{"number": COMPANY}]
    doc["transports"] = [
        {"name": "carrier", "role": "carrier", "kind": "smpp", "host": "127.0.0.1", "port": smsc.port,
         "system_id": "parley", "password": "secret"},
    ]  # fmt: skip
    parley.apply(doc)
    await parley.start()
    await smsc.wait_for(lambda: smsc.bound_sessions >= 1, timeout=20)
    try:
        yield parley
    finally:
        await parley.close()


def _mail(message: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "alice@example.com", "sms@parley.example.com", "SMS"
    mail.set_content(
        f"SENDSMS: TRUE\nFROMNUMBER: 101\nTONUMBER: +15551234567\nSMSPASSWORD: wildix-pass\nMESSAGE: {message}\n"
    )
    return mail


async def _messages(server: ParleyServer, **params: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as client:
        response = await client.get("/api/v2/messages", params={"limit": "500", **params})
    response.raise_for_status()
    return list(response.json()["messages"])


async def test_a_nul_in_any_ingress_is_refused_naming_the_field_and_concurrent_sends_all_succeed(
    server: ParleyServer,
) -> None:
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE, timeout=30) as client:

        def wildix(text: str, n: int) -> Any:
            return client.post("/api/v1/originate/sms", data={"number": f"+155512345{n:02d}", "message": text})

        normal = [wildix(f"normal {n}", n) for n in range(NORMAL)]
        hostile = [
            wildix("a\x00b", 99),
            client.post("/api/v2/messages", json={"to": ["+15551234598"], "text": "a\u0000b"}),
            deliver(server, _mail("a\x00b")),
        ]
        *answers, wildix_nul, native_nul, (smtp_code, smtp_reply) = await asyncio.gather(*normal, *hostile)
    assert [a.status_code for a in answers] == [200] * NORMAL
    assert wildix_nul.status_code == 400
    body = wildix_nul.json()
    assert (body["type"], body["result"]) == ("error", None)
    assert "NUL" in body["reason"] and "essage" in body["reason"]  # names the message field
    assert native_nul.status_code == 422
    assert any("text" in detail["loc"] for detail in native_nul.json()["detail"])
    assert smtp_code in (550, 554) and "NUL" in smtp_reply and "MESSAGE" in smtp_reply
    sent = await _messages(server, direction="out")
    assert sorted(m["body"] for m in sent) == sorted(f"normal {n}" for n in range(NORMAL))


async def test_an_mo_with_a_nul_is_stored_cleaned_with_a_note_and_the_mos_around_it_are_stored(
    server: ParleyServer, smsc: SmscSimulator
) -> None:
    for n in range(10):
        smsc.send_mo(f"+155576543{n:02d}", COMPANY, f"before {n}")
    smsc.send_mo(CUSTOMER, COMPANY, "a\x00b")
    for n in range(10):
        smsc.send_mo(f"+155576544{n:02d}", COMPANY, f"after {n}")

    async def all_stored() -> list[dict[str, Any]] | None:
        found = await _messages(server, direction="in")
        return found if len(found) == 21 else None

    stored = await wait_until(all_stored, timeout=30)
    cleaned = next(m for m in stored if m["from"] == CUSTOMER)
    assert cleaned["body"] == "a\ufffdb"
    assert cleaned["error"] == "1 character of the text could not be stored and was replaced by U+FFFD: U+0000"
    assert all(m["error"] is None for m in stored if m["from"] != CUSTOMER)
