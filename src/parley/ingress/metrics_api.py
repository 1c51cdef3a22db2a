"""GET /metrics (Prometheus), for the monitoring system only (issue 10).

Open by default to loopback alone — and not to a request a reverse proxy on the same host forwarded
(it carries ``X-Forwarded-For`` or ``Forwarded``), which would otherwise look local. Further readers are
named by settings: ``PARLEY_METRICS_ALLOW`` (addresses or CIDR ranges, comma-separated) and/or
``PARLEY_METRICS_TOKEN`` (sent as ``Authorization: Bearer <token>``).
"""

from __future__ import annotations

import functools
import hmac
import ipaddress

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from parley.app_state import ParleyDep

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=16)
def allowed_networks(value: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 192.0.2.7"`` -> networks; a bad entry is a ValueError naming it (`create_app` reads the
    setting once, so a bad entry stops the start; each request to /metrics then finds it parsed)."""
    networks: list[Network] = []
    for entry in (e.strip() for e in value.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f'PARLEY_METRICS_ALLOW: "{entry}" is not an address or a CIDR range') from None
    return tuple(networks)


def may_read(request: Request, *, token: str, networks: tuple[Network, ...]) -> bool:
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return True
    try:
        address = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    if any(address in network for network in networks):
        return True
    forwarded = "x-forwarded-for" in request.headers or "forwarded" in request.headers
    return address.is_loopback and not forwarded


router = APIRouter(tags=["Operations"])


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request, parley: ParleyDep) -> PlainTextResponse:
    """Prometheus metrics: from loopback, an address in `PARLEY_METRICS_ALLOW`, or with the bearer
    `PARLEY_METRICS_TOKEN`."""
    settings = parley.settings
    if not may_read(request, token=settings.metrics_token, networks=allowed_networks(settings.metrics_allow)):
        raise HTTPException(403, "Metrics are served to loopback, PARLEY_METRICS_ALLOW and PARLEY_METRICS_TOKEN")
    return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)
