"""Every route of the real app, as a table (issue 10): without credentials each answers 401 (API) or the sign-in
redirect (console), except an explicit allow-list; a plain user (business license, not an admin) gets 403 or 404
on every admin route. A new route without its check fails here."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

from parley.core.api_keys import SCOPES, is_known_route, scope_for
from parley.ingress.api_auth import CurrentUser
from parley.web.security import ConsoleSession
from tests.support.app import InProcess, console_client, in_process
from tests.support.provisioning import document

PLAIN = ("102", "bob-secret")  # business license, not an admin
OUTSIDE = "203.0.113.9"  # not loopback: /metrics wants its own credentials

# Routes anyone may call: each either needs no identity or checks its own credentials.
OPEN = {
    "/healthz": "liveness for load balancers",
    "/login": "the sign-in form and its post (double-submit CSRF)",
    "/api/v2/webhooks/twilio": "X-Twilio-Signature",
    "/api/v2/webhooks/twilio/status": "X-Twilio-Signature",
    "/api/v2/webhooks/inbound": "X-Parley-Signature",
    "/api/v2/webhooks/telnyx": "telnyx-signature-ed25519 (a telnyx transport's public key)",
    "/api/v2/webhooks/whatsapp": "GET: a whatsapp transport's verify token; POST: X-Hub-Signature-256 (app secret)",
    "/media/{token}": "a signed, expiring token: the address of an MMS attachment handed to carriers",
    "/metrics": "loopback, PARLEY_METRICS_ALLOW or PARLEY_METRICS_TOKEN",
    "/static": "the console's CSS and scripts",
    "/r/{token}": "a reply link: a random token (stored hashed), expiring, bound to one customer; posts rate-limited",
    "/r/{token}/events": "the reply link's live stream: its token, and only messages between its two numbers",
    "/r/{anything:path}": "any other path under /r/: the page saying the link is no longer valid",
}
# Admin routes that are neither under /admin nor tagged Administration in the API.
ALSO_ADMIN = {
    ("DELETE", "/api/v2/blocklist/{number}"),
    ("POST", "/blocklist/remove"),
    ("GET", "/api/v1/openapi.json"),  # seed 004: the API documentation is for admins
    ("GET", "/api/v1/doc"),
}
API_PREFIXES = ("/api/", "/2010-04-01/")  # the Twilio-compatible API answers 401 too, in Twilio's shape
PARAMS = {"number": "+15551230001", "name": "carrier", "extension": "101", "member": "101"}


def route_contexts(app: Any) -> list[Any]:
    """The app's routes, routers included (FastAPI 0.16x keeps them as included routers in ``app.routes``)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # an older FastAPI: app.routes are the routes themselves
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def endpoints(app: Any) -> list[tuple[str, str, bool]]:
    """(method, path template, whether it is an admin route) for every route of the app."""
    found: list[tuple[str, str, bool]] = []
    for route in route_contexts(app):
        if isinstance(getattr(route, "original_route", route), Mount):
            assert route.path in OPEN, f"a mounted app at {route.path}: allow-list it or give it a check"
            continue
        tags = getattr(route, "tags", None) or []
        for method in sorted((route.methods or set()) - {"HEAD"}):
            admin = route.path.startswith("/admin") or "Administration" in tags or (method, route.path) in ALSO_ADMIN
            found.append((method, route.path, admin))
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: quote(PARAMS.get(m[1], "1"), safe=""), path)


def body_for(app: Any, method: str, path: str) -> dict[str, Any]:
    """An empty JSON object for API routes that read a JSON body (so that the body is not what refuses)."""
    if not path.startswith("/api/"):
        return {}
    for route in route_contexts(app):
        original = getattr(route, "original_route", route)
        if isinstance(original, APIRoute) and route.path == path and method in route.methods and original.body_field:
            return {"json": {}}
    return {}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    doc = document()
    doc["users"] = [{**u, "license": "business"} if u["extension"] == "102" else u for u in doc["users"]]
    doc["transports"] = [{"name": "carrier", "role": "carrier", "kind": "smpp", "host": "127.0.0.1", "port": 1,
                          "system_id": "parley", "password": "secret"}]  # fmt: skip
    async with in_process(tmp_path, doc) as running:
        yield running


async def refused_without_credentials(app: InProcess) -> list[str]:
    """The routes that answer an anonymous request with something else than 401 / the sign-in redirect."""
    wrong: list[str] = []
    async with app.client(address=OUTSIDE) as anonymous:
        for method, path, _ in endpoints(app.app):
            if path in OPEN:
                continue
            response = await anonymous.request(method, concrete(path), **body_for(app.app, method, path))
            if path.startswith(API_PREFIXES):
                ok = response.status_code == 401
            else:
                ok = response.status_code == 303 and response.headers["location"].startswith("/login")
            if not ok:
                wrong.append(f"{method} {path}: {response.status_code}")
    return wrong


async def admin_routes_a_plain_user_may_use(app: InProcess) -> list[str]:
    table = [(method, path) for method, path, admin in endpoints(app.app) if admin]
    assert len(table) > 30
    wrong: list[str] = []
    async with app.client(PLAIN, address=OUTSIDE) as api, console_client(app, PLAIN) as (console, csrf):
        for method, path in table:
            client = api if path.startswith("/api/") else console
            response = await client.request(
                method, concrete(path), headers={"X-CSRF-Token": csrf}, **body_for(app.app, method, path)
            )
            if response.status_code not in (403, 404):
                wrong.append(f"{method} {path}: {response.status_code}")
    return wrong


async def test_every_route_refuses_a_request_without_credentials(app: InProcess) -> None:
    assert len(endpoints(app.app)) > 100  # the whole app, not a part of it
    assert await refused_without_credentials(app) == []


async def test_the_allow_listed_routes_still_check_their_own_credentials(app: InProcess) -> None:
    async with app.client(address=OUTSIDE) as anonymous:
        for path in (
            "/api/v2/webhooks/twilio",
            "/api/v2/webhooks/twilio/status",
            "/api/v2/webhooks/inbound",
            "/api/v2/webhooks/telnyx",
            "/api/v2/webhooks/whatsapp",
        ):
            assert (await anonymous.post(path, json={})).status_code in (403, 404), path
        assert (await anonymous.get("/api/v2/webhooks/whatsapp", params={"hub.challenge": "1"})).status_code == 403
        assert (await anonymous.get("/metrics")).status_code == 403
        assert (await anonymous.get("/media/0123456789abcdef0123")).status_code == 404  # no token, nothing served
        assert (await anonymous.post("/login", data={"extension": "101", "password": "x"})).status_code == 403


async def test_a_plain_user_is_refused_every_admin_route(app: InProcess) -> None:
    assert await admin_routes_a_plain_user_may_use(app) == []


async def test_a_new_route_without_its_check_fails_the_table(app: InProcess) -> None:
    @app.app.get("/api/v2/forgotten")
    async def forgotten() -> dict[str, bool]:
        return {"open": True}

    @app.app.get("/admin/forgotten")
    async def forgotten_admin_page(_: ConsoleSession) -> dict[str, bool]:
        return {"admin": False}

    assert await refused_without_credentials(app) == ["GET /api/v2/forgotten: 200"]
    assert "GET /admin/forgotten: 200" in await admin_routes_a_plain_user_may_use(app)


# API keys (issue 13 §2): every /api/v2 route a key can reach has its scope in core.api_keys.ROUTE_SCOPES, and the
# scope is enforced on each: a key with every scope but that one is refused, naming it; a key with only that one
# is not refused for its scope.
ADMIN = ("101", "sms101api")
LONG_LIVED = {"/api/v2/events"}  # a stream that does not end: checked for its refusal only


def key_routes(app: Any) -> list[tuple[str, str, bool]]:
    return [(m, p, admin) for m, p, admin in endpoints(app) if p.startswith("/api/v2/") and p not in OPEN]


async def keys_by_scopes(app: InProcess) -> dict[str, dict[str, str]]:
    """For each scope: the secret of a key with every scope but it ("but") and of one with only it ("only")."""
    made: dict[str, dict[str, str]] = {}
    async with app.client(ADMIN, address=OUTSIDE) as admin:
        for scope in SCOPES:
            made[scope] = {}
            for kind, scopes in (("but", [s for s in SCOPES if s != scope]), ("only", [scope])):
                answer = await admin.post("/api/v2/api-keys", json={"name": f"{kind}-{scope}", "scopes": scopes})
                assert answer.status_code == 201, answer.text
                made[scope][kind] = answer.json()["secret"]
    return made


async def test_every_api_route_has_its_scope_in_the_one_table(app: InProcess) -> None:
    routes = key_routes(app.app)
    assert len(routes) > 50
    assert [f"{m} {p}" for m, p, _ in routes if not is_known_route(m, p)] == []
    assert [f"{m} {p}" for m, p, admin in routes if admin and scope_for(m, p) != "admin"] == []


async def test_every_api_route_enforces_its_scope_on_a_key(app: InProcess) -> None:
    keys = await keys_by_scopes(app)
    wrong: list[str] = []
    async with app.client(address=OUTSIDE) as http:
        for method, path, _ in key_routes(app.app):
            needed = scope_for(method, path)
            kwargs = body_for(app.app, method, path)
            but = await http.request(
                method, concrete(path), headers={"Authorization": f"Bearer {keys[needed]['but']}"}, **kwargs
            )
            if but.status_code != 403 or f"lacks the '{needed}' scope" not in but.text:
                wrong.append(f"{method} {path} without {needed}: {but.status_code}")
            if path in LONG_LIVED:
                continue
            only = await http.request(
                method, concrete(path), headers={"Authorization": f"Bearer {keys[needed]['only']}"}, **kwargs
            )
            if only.status_code in (401, 429) or "lacks the" in only.text:
                wrong.append(f"{method} {path} with only {needed}: {only.status_code} {only.text[:80]}")
    assert wrong == []


async def test_a_new_api_route_needs_the_admin_scope_until_the_table_says_otherwise(app: InProcess) -> None:
    @app.app.get("/api/v2/forgotten")
    async def forgotten(user: CurrentUser) -> dict[str, str]:
        return {"user": user.extension}

    keys = await keys_by_scopes(app)
    assert not is_known_route("GET", "/api/v2/forgotten")
    async with app.client(address=OUTSIDE) as http:
        refused = await http.get("/api/v2/forgotten", headers={"Authorization": f"Bearer {keys['admin']['but']}"})
        allowed = await http.get("/api/v2/forgotten", headers={"Authorization": f"Bearer {keys['admin']['only']}"})
    assert (refused.status_code, allowed.status_code) == (403, 200)
