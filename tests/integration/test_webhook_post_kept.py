"""What an attempt keeps between deliveries (`services.webhook_post`): a URL's check and a host name's addresses.

Every attempt used to parse and check its URL and resolve its host again (a lookup through the resolver's thread
pool, for every status change of every message). Now a checked URL is kept while the allowed networks stay the
same, and a name's addresses for `RESOLVED_SECONDS`; the kept addresses are still checked at every attempt, and a
change of ``[webhooks] allow_private`` applies at the next attempt.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from parley.core import webhook_addresses as addresses
from parley.services import webhook_post
from parley.services.webhook_post import WebhookPoster
from tests.support.webhook_receiver import HttpSink

LOOPBACK = addresses.parse_networks(["127.0.0.0/8"])


class Secrets:
    """The allowed networks as a test sets them (a new list when they change, as `WebhookEndpoints` gives)."""

    def __init__(self) -> None:
        self.allowed: list[addresses.Network] = list(LOOPBACK)

    async def endpoint_secret(self, endpoint_id: str, sealed: str) -> str | None:
        return "whsec_test"

    async def key_secret(self, key_id: str) -> str | None:
        return None

    async def account_sid(self) -> str:
        return "AC0"

    async def allowed_networks(self) -> list[addresses.Network]:
        return self.allowed


@dataclass
class Delivery:
    endpoint_url: str
    id: int = 1
    endpoint_id: str | None = "whe_1"
    enabled: bool = True
    url: str | None = None
    format: str = "parley"
    body: str = '{"id":"evt_1"}'
    event_id: str = "evt_1"
    secret_sealed: str = "sealed"
    api_key_id: str | None = None


def _clock() -> datetime:
    return datetime.now(UTC)


async def test_a_host_name_is_resolved_once_for_many_deliveries_and_its_addresses_checked_each_time() -> None:
    looked_up: list[str] = []
    answer = ["127.0.0.1"]

    async def resolver(host: str, port: int) -> list[Any]:
        looked_up.append(host)
        return [ipaddress.ip_address(a) for a in answer]

    secrets = Secrets()
    poster = WebhookPoster(_clock, secrets, resolver=resolver)
    try:
        async with HttpSink() as sink:
            delivery = Delivery(f"http://hooks.example.com:{sink.port}/in")
            for _ in range(3):
                assert (await poster.attempt(delivery)).ok
            assert looked_up == ["hooks.example.com"]
            assert [r.headers["host"] for r in sink.requests] == [f"hooks.example.com:{sink.port}"] * 3
            secrets.allowed = []  # the admin takes loopback away: the kept address is refused at once
            refused = await poster.attempt(delivery)
            assert refused.status is None and refused.error is not None and "127.0.0.1 is not public" in refused.error
            assert len(sink.requests) == 3 and looked_up == ["hooks.example.com"]
    finally:
        await poster.close()


async def test_a_name_is_looked_up_again_once_its_addresses_are_old(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook_post, "RESOLVED_SECONDS", 0.0)
    looked_up: list[str] = []

    async def resolver(host: str, port: int) -> list[Any]:
        looked_up.append(host)
        return [ipaddress.ip_address("127.0.0.1" if len(looked_up) == 1 else "10.9.8.7")]  # then it moves

    poster = WebhookPoster(_clock, Secrets(), resolver=resolver)
    try:
        async with HttpSink() as sink:
            delivery = Delivery(f"http://hooks.example.com:{sink.port}/in")
            assert (await poster.attempt(delivery)).ok
            moved = await poster.attempt(delivery)
            assert moved.error is not None and "10.9.8.7 is not public" in moved.error
            assert looked_up == ["hooks.example.com"] * 2 and len(sink.requests) == 1
    finally:
        await poster.close()


async def test_a_literal_address_allowed_then_disallowed_is_refused_at_the_next_attempt() -> None:
    secrets = Secrets()
    poster = WebhookPoster(_clock, secrets)
    try:
        async with HttpSink() as sink:
            delivery = Delivery(f"http://127.0.0.1:{sink.port}/in?x=1")
            assert (await poster.attempt(delivery)).ok
            assert sink.requests[0].target == "/in?x=1"
            secrets.allowed = []
            refused = await poster.attempt(delivery)
            assert refused.error is not None and refused.error.startswith("refused:")
            secrets.allowed = list(LOOPBACK)
            assert (await poster.attempt(delivery)).ok
            assert len(sink.requests) == 2
    finally:
        await poster.close()
