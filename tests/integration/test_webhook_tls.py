"""HTTPS webhook receivers: the sender connects to the address it checked, and the certificate must be the URL's
host's (checked against that name, which is also sent as SNI), over a real TLS connection."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from parley.bootstrap import Parley
from parley.core.webhook_addresses import Address
from parley.services.webhook_sender import WebhookSender
from parley.store.db import Database
from parley.store.tables import webhook_deliveries
from tests.conftest import Clock
from tests.support.http_sink import HttpSink
from tests.support.tls import client_trusting, self_signed, server_context
from tests.support.webhook_app import app_for_webhooks, new_endpoint, send
from tests.support.webhook_receiver import envelope

HOST = "hooks.example.test"


@pytest.fixture
async def parley(db: Database, db_url: str, clock: Clock) -> AsyncIterator[Parley]:
    async with app_for_webhooks(db, db_url, clock) as app:
        yield app


async def to_loopback(host: str, port: int) -> list[Address]:
    """The receiver's name resolves to this machine (as a public name would to a public address)."""
    assert host == HOST
    return [ipaddress.ip_address("127.0.0.1")]


async def _post_one(parley: Parley, clock: Clock, sink: HttpSink, trusted: Path) -> tuple[str, Any]:
    """One status webhook to ``sink`` as https://HOST:port/in; returns the message's id and its delivery row."""
    endpoint = await new_endpoint(parley, f"https://{HOST}:{sink.port}/in", ["message.status"])
    message = await send(parley)
    sender = WebhookSender(parley.db, clock, parley.webhooks, resolver=to_loopback, tls=client_trusting(trusted))
    try:
        assert await sender.run_once() == 1
    finally:
        await sender.close()
    async with parley.db.read() as conn:
        query = sa.select(*webhook_deliveries.c).where(webhook_deliveries.c.endpoint_id == endpoint["id"])
        return message["id"], (await conn.execute(query)).one()


async def test_an_https_receiver_with_its_host_s_certificate_gets_the_event(
    parley: Parley, clock: Clock, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path, [HOST])
    async with HttpSink(tls=server_context(cert, key)) as sink:
        message_id, delivery = await _post_one(parley, clock, sink, cert)
    assert (delivery.state, delivery.last_status, delivery.last_error) == ("delivered", 200, None)
    [request] = sink.requests
    assert request.headers["host"] == f"{HOST}:{sink.port}"  # the URL's host, though it connected to 127.0.0.1
    assert envelope(request)["data"]["id"] == message_id


async def test_a_certificate_for_another_name_is_refused_before_anything_is_sent(
    parley: Parley, clock: Clock, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path, ["other.example.test", "127.0.0.1"])  # valid for the address, not the name
    async with HttpSink(tls=server_context(cert, key)) as sink:
        _, delivery = await _post_one(parley, clock, sink, cert)
    assert delivery.state == "pending" and delivery.last_status is None
    assert "certificate" in delivery.last_error.lower() and HOST in delivery.last_error
    assert sink.requests == []
