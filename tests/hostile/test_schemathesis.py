"""Schemathesis over the whole OpenAPI document, against `parley serve` on PostgreSQL: no input gets a 5xx.

Every operation (but the event stream, which never ends) gets generated requests, as an admin and as a plain user:
requests that fit the schema and requests that break it (wrong types, missing fields, odd strings, huge and negative
numbers). Path parameters are random, or — to get past the 404 — ids of a list, a conversation, a campaign and a
message that exist. Bounded to about a minute in all: a few examples per operation, no shrinking (a failing request
is reported as a curl command instead), no example database.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.generation.case import Case
from schemathesis.generation.modes import GenerationMode

from parley.core.twilio_ids import message_sid
from tests.hostile.conftest import ADMIN, USER
from tests.support.server import ParleyServer

EXAMPLES_PER_OPERATION = 25
SKIPPED = {("GET", "/api/v2/events")}  # Server-Sent Events: the response never ends
COMPANY, CUSTOMER = "+15551230001", "+15557654321"


def _basic(credentials: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(":".join(credentials).encode()).decode()


def existing_ids(server: ParleyServer, tag: str) -> dict[str, Any]:
    """A value for every path parameter that names something real."""
    with httpx.Client(base_url=server.url, auth=ADMIN, timeout=30) as admin:
        saved_list = admin.post("/api/v2/lists", json={"name": f"seed {tag}"}).json()
        conversation = admin.post("/api/v2/conversations", json={"to": CUSTOMER, "service": "Support"}).json()
        campaign = admin.post(
            "/api/v2/campaigns", json={"name": f"seed {tag}", "sender": COMPANY, "message": "Hi {first_name}"}
        ).json()
        message = admin.post("/api/v2/messages", json={"to": CUSTOMER, "text": "seed"}).json()["messages"][0]
        stored = admin.post("/api/v2/media", files={"file": (f"seed {tag}.txt", b"seed")}).json()
        key = admin.post("/api/v2/api-keys", json={"name": f"seed {tag}", "scopes": ["read"]}).json()
        hook = {"url": "https://webhooks.invalid/seed", "events": ["message.status"]}  # .invalid: never resolves
        endpoint = admin.post("/api/v2/webhook-endpoints", json=hook).json()
        admin.post("/api/v2/messages", json={"to": CUSTOMER, "text": "seed"})
        delivery = admin.get(f"/api/v2/webhook-endpoints/{endpoint['id']}/deliveries").json()[0]
    return {
        "list_id": saved_list["id"], "conversation_id": conversation["id"], "campaign_id": campaign["id"],
        "message_id": message["id"], "number": COMPANY, "company_number": COMPANY, "external_number": CUSTOMER,
        "member": ADMIN[0], "media_id": stored["id"], "key_id": key["id"], "endpoint_id": endpoint["id"],
        "delivery_id": delivery["id"],
    }  # fmt: skip


@pytest.mark.parametrize("credentials", [pytest.param(ADMIN, id="admin"), pytest.param(USER, id="plain-user")])
def test_no_generated_request_gets_a_server_error(pg_server: ParleyServer, credentials: tuple[str, str]) -> None:
    schema = schemathesis.openapi.from_url(
        f"{pg_server.url}/api/v1/openapi.json", headers={"Authorization": _basic(ADMIN)}
    )
    known = with_twilio_ids(pg_server, existing_ids(pg_server, credentials[0]))
    headers = {"Authorization": _basic(credentials)}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        operations += 1
        real = {p.name: known[p.name] for p in operation.path_parameters}
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        cases = st.one_of(
            *(operation.as_strategy(mode) for mode in modes),
            *(operation.as_strategy(mode, path_parameters=real) for mode in modes if real),
        )

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=cases)
        def call(case: Case) -> None:
            response = case.call(base_url=pg_server.url, headers=headers, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{response.status_code} {case.as_curl_command(headers=headers)}")

        call()
    assert operations > 40  # the document was read: every API is in it
    assert not failures, "\n".join(failures[:20])


def with_twilio_ids(server: ParleyServer, known: dict[str, Any]) -> dict[str, Any]:
    """The Twilio-compatible API's path parameters: the installation's account SID and a real message SID."""
    with httpx.Client(base_url=server.url, auth=ADMIN, timeout=30) as admin:
        key = admin.get(f"/api/v2/api-keys/{known['key_id']}").json()
    return {**known, "account_sid": key["account_sid"], "sid": message_sid(known["message_id"])}
