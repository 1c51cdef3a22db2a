"""Who may read /metrics (issue 10): loopback by default, then PARLEY_METRICS_ALLOW and PARLEY_METRICS_TOKEN."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.ingress.metrics_api import allowed_networks
from tests.support.app import in_process

OUTSIDE = "203.0.113.9"


async def test_metrics_are_refused_to_an_outside_address_and_served_to_loopback(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app:
        async with app.client(address=OUTSIDE) as outside:
            assert (await outside.get("/metrics")).status_code == 403
        async with app.client() as local:
            served = await local.get("/metrics")
            assert served.status_code == 200
            assert "parley_messages_accepted" in served.text
            proxied = await local.get("/metrics", headers={"X-Forwarded-For": OUTSIDE})
            assert proxied.status_code == 403  # a proxy on this host forwarded it: not a local reader


async def test_a_bearer_token_opens_metrics_to_any_address(tmp_path: Path) -> None:
    async with in_process(tmp_path, metrics_token="scrape-me-0123456789") as app, app.client(address=OUTSIDE) as c:
        assert (await c.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"})).status_code == 200
        assert (await c.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 403
        assert (await c.get("/metrics")).status_code == 403


async def test_allowed_ranges_open_metrics_to_their_addresses_only(tmp_path: Path) -> None:
    async with in_process(tmp_path, metrics_allow="203.0.113.0/24, 2001:db8::1") as app:
        async with app.client(address=OUTSIDE) as inside:
            assert (await inside.get("/metrics")).status_code == 200
        async with app.client(address="198.51.100.1") as other:
            assert (await other.get("/metrics")).status_code == 403


def test_a_bad_allowed_range_is_named() -> None:
    with pytest.raises(ValueError, match=r'"10\.0\.0\.0/33"'):
        allowed_networks("10.0.0.0/8, 10.0.0.0/33")


async def test_a_bad_allowed_range_stops_the_app_from_being_built(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r'PARLEY_METRICS_ALLOW: "not-a-range"'):
        async with in_process(tmp_path, metrics_allow="127.0.0.1, not-a-range"):
            pass
