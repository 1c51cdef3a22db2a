"""Parley built in the test process for the outbound-webhook tests (tests/integration/test_outbound_webhooks.py,
test_webhook_pipeline.py, test_webhook_tls.py, test_webhook_attempts.py): the users they act as, the calls they
make through its API, and sending what is due."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from parley.bootstrap import Parley, build
from parley.services.send import SendSms
from parley.settings import Settings
from parley.store import messages
from parley.store import webhooks as webhook_store
from parley.store.db import Database
from tests.conftest import Clock
from tests.support.app import client
from tests.support.provisioning import BASE, provision

ALICE, BOB = ("101", "sms101api"), ("102", "bob-secret")  # Alice is an admin, Bob is not
CUSTOMER = "+15551234567"
USERS = [{**u, "office_number": "+15551230002"} if u["extension"] == "102" else u for u in BASE["users"]]
LOOPBACK = {"allow_private": ["127.0.0.0/8"]}  # the tests' receivers listen on 127.0.0.1


async def build_app(db: Database, db_url: str, clock: Clock, webhooks: dict[str, Any] | None) -> Parley:
    """Provision the users (and ``[webhooks]`` when given) and build Parley on that database."""
    await provision(db, clock(), users=USERS, **({"webhooks": webhooks} if webhooks is not None else {}))
    return build(Settings(database_url=db_url, smtp="", secret="installation-secret"), clock=clock)


@asynccontextmanager
async def app_for_webhooks(db: Database, db_url: str, clock: Clock) -> AsyncIterator[Parley]:
    """Parley that may send webhooks to 127.0.0.0/8, closed at the end."""
    app = await build_app(db, db_url, clock, LOOPBACK)
    try:
        yield app
    finally:
        await app.close()


async def drain(parley: Parley) -> None:
    """Send everything due now (the sender's own loop does this in a running server)."""
    while await parley.webhook_sender.run_once():
        pass


async def new_endpoint(parley: Parley, url: str, events: list[str], who: tuple[str, str] = ALICE) -> dict[str, Any]:
    async with client(parley, auth=who) as http:
        answer = await http.post("/api/v2/webhook-endpoints", json={"url": url, "events": events})
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def send(parley: Parley, who: tuple[str, str] = ALICE, **extra: Any) -> dict[str, Any]:
    async with client(parley, auth=who) as http:
        answer = await http.post("/api/v2/messages", json={"to": CUSTOMER, "text": "Hello", **extra})
    assert answer.status_code == 201, answer.text
    sent: dict[str, Any] = answer.json()["messages"][0]
    return sent


async def send_many(parley: Parley, count: int) -> list[str]:
    """One send by Alice to ``count`` numbers (one transaction); the messages' ids."""
    alice = await parley.cache.user("101")
    assert alice is not None
    numbers = [f"+1555200{i:04d}" for i in range(count)]
    result = await parley.outbox.send(SendSms(user=alice, destinations=numbers, text="Hi"))
    return [str(m["id"]) for m in result.messages]


async def set_status(parley: Parley, clock: Clock, ids: list[str], status: str) -> None:
    """The messages' status changed, in one transaction (as a batch of receipts sets it)."""
    async with parley.db.write() as conn:
        await messages.set_status(conn, [{"id": i, "status": status} for i in ids], now=clock())


def count_claims(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, how many deliveries each claim (any sender's) brought, in order."""
    counted: list[int] = []
    claim = webhook_store.claim

    async def counting(*args: Any, **kwargs: Any) -> list[Any]:
        rows = await claim(*args, **kwargs)
        counted.append(len(rows))
        return rows

    monkeypatch.setattr(webhook_store, "claim", counting)
    return counted
