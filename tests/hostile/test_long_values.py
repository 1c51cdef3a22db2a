"""Every text a request carries, made 5,000 characters long, on PostgreSQL (issue 9 §2).

PostgreSQL enforces `varchar(n)` where SQLite does not: a value longer than its column used to come back as a 500.
Each string of a request that is otherwise valid (so that it gets as far as the database) is lengthened in turn,
and so is each query and path parameter: the answer is a success or a 4xx, never a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.hostile.conftest import ADMIN
from tests.support.server import ParleyServer

LONG = "a" * 5000
ONE_REQUEST_PER_CONNECTION = httpx.Limits(max_keepalive_connections=0)  # a 500 closes its connection
COMPANY, CUSTOMER = "+15551230001", "+15557654321"


def lengthened(value: Any) -> Iterator[tuple[str, Any]]:
    """(where, a copy of ``value`` with the string there made LONG), for every string in it, keys included."""
    if isinstance(value, str):
        yield "", LONG
    elif isinstance(value, list):
        for i, item in enumerate(value):
            for where, changed in lengthened(item):
                yield f"[{i}]{where}", [*value[:i], changed, *value[i + 1 :]]
    elif isinstance(value, dict):
        for key, item in value.items():
            for where, changed in lengthened(item):
                yield f".{key}{where}", {**value, key: changed}
            yield f".{key}(key)", {**{k: v for k, v in value.items() if k != key}, LONG: item}


@pytest.fixture(scope="module")
def ids(pg_server: ParleyServer) -> dict[str, Any]:
    with httpx.Client(base_url=pg_server.url, auth=ADMIN, timeout=30) as admin:
        saved_list = admin.post("/api/v2/lists", json={"name": "long values"}).json()
        admin.post(f"/api/v2/lists/{saved_list['id']}/entries", json={"number": CUSTOMER, "fields": {"a": "b"}})
        conversation = admin.post("/api/v2/conversations", json={"to": CUSTOMER, "service": "Support"}).json()
    return {"list": saved_list["id"], "conversation": conversation["id"]}


def requests(ids: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Valid requests: (method, path, JSON body)."""
    lst, cid = ids["list"], ids["conversation"]
    call = {"customer": CUSTOMER, "company_number": COMPANY, "service": "Support", "agent": "101", "direction": "in",
            "started_at": "2026-01-01T10:00:00Z", "ended_at": "2026-01-01T10:05:00Z"}  # fmt: skip
    campaign = {"name": "c", "sender_type": "number", "sender": COMPANY, "message": "Hi", "rating_extension": "101",
                "list_id": lst, "start_at": "2030-01-01T09:00:00Z",
                "hours": {"from": "09:00", "to": "20:00"}}  # fmt: skip
    return [
        ("POST", "/api/v2/messages", {"to": [CUSTOMER], "text": "hi", "send_at": "2030-01-01T09:00:00Z"}),
        ("POST", "/api/v2/conversations", {"to": CUSTOMER, "service": "Support"}),
        ("POST", "/api/v2/calls", call),
        ("POST", "/api/v2/campaigns", campaign),
        ("POST", "/api/v2/lists", {"name": "another"}),
        ("PATCH", f"/api/v2/lists/{lst}", {"name": "renamed"}),
        ("POST", f"/api/v2/lists/{lst}/entries", {"number": "+15557654322", "fields": {"first_name": "Ada"}}),
        ("PATCH", f"/api/v2/lists/{lst}/entries/{CUSTOMER}", {"fields": {"first_name": "Ada"}}),
        ("POST", "/api/v2/blocklist", {"number": "+15557654323"}),
        ("PATCH", f"/api/v2/conversations/{cid}", {"title": "renamed"}),
        ("POST", f"/api/v2/conversations/{cid}/messages", {"text": "hello"}),
        ("POST", f"/api/v2/conversations/{cid}/members", {"member": "101"}),
        ("POST", f"/api/v2/conversations/{cid}/assign", {"assignee": "101"}),
        ("PUT", f"/api/v2/numbers/{COMPANY}/settings", {"linked_service": "Support",
                                                         "routing": {"type": "agent", "target": "101"}}),
    ]  # fmt: skip


def test_every_string_of_a_valid_json_request_made_long_is_never_a_server_error(
    pg_server: ParleyServer, ids: dict[str, Any]
) -> None:
    failures = []
    with httpx.Client(base_url=pg_server.url, auth=ADMIN, timeout=30, limits=ONE_REQUEST_PER_CONNECTION) as admin:
        for method, path, body in requests(ids):
            for where, changed in lengthened(body):
                response = admin.request(method, path, json=changed)
                if response.status_code >= 500:
                    failures.append(f"{method} {path} body{where}: {response.status_code}")
    assert failures == []


QUERIES = [
    ("/api/v2/messages", ["to", "from", "user", "campaign", "before", "status", "direction"]),
    ("/api/v2/conversations", ["service", "company_number", "customer"]),
    ("/api/v2/campaigns", ["status"]),
    ("/api/v2/blocklist", ["after"]),
    ("/api/v2/lists/{list}/entries", ["after"]),
    ("/api/v2/conversations/{conversation}/messages", ["before"]),
]
PATHS = [
    ("GET", "/api/v2/messages/{long}"),
    ("GET", "/api/v2/conversations/{long}"),
    ("GET", "/api/v2/campaigns/{long}"),
    ("GET", "/api/v2/campaigns/{long}/recipients"),
    ("GET", "/api/v2/numbers/{long}"),
    ("DELETE", "/api/v2/blocklist/{long}"),
    ("DELETE", "/api/v2/blocks/{long}/{long}"),
    ("DELETE", "/api/v2/lists/{list}/entries/{long}"),
    ("DELETE", "/api/v2/conversations/{conversation}/members/{long}"),
]


def test_every_long_query_or_path_parameter_is_never_a_server_error(
    pg_server: ParleyServer, ids: dict[str, Any]
) -> None:
    failures = []
    with httpx.Client(base_url=pg_server.url, auth=ADMIN, timeout=30, limits=ONE_REQUEST_PER_CONNECTION) as admin:
        for path, names in QUERIES:
            for name in names:
                response = admin.get(path.format(**ids), params={name: LONG})
                if response.status_code >= 500:
                    failures.append(f"GET {path}?{name}=: {response.status_code}")
        for method, path in PATHS:
            response = admin.request(method, path.format(long=LONG[:2000], **ids))
            if response.status_code >= 500:
                failures.append(f"{method} {path}: {response.status_code}")
        for field in ("number", "message", "postpone", "gsm"):
            form = {"number": CUSTOMER, "message": "hi", field: LONG}
            response = admin.post("/api/v1/originate/sms", data=form)
            if response.status_code >= 500:
                failures.append(f"POST /api/v1/originate/sms {field}: {response.status_code}")
    assert failures == []
