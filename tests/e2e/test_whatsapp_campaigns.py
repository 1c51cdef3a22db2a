"""A WhatsApp campaign end to end (issue 12 §8): `parley serve` sends an approved template to each recipient of a
CSV through the local Graph API, each filled with the recipient's first name; an opted-out number gets nothing and
a throttled send (Meta's 131056, pair rate limit) is retried, not failed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fake_meta import FakeMeta
from tests.support.provisioning import document
from tests.support.server import ParleyServer, wait_until
from tests.support.whatsapp_seed import opt_out, synced

ALICE = ("101", "sms101api")
COMPANY = "+15551230001"
OPTED_OUT = "+15550000002"


@pytest.fixture
async def meta() -> AsyncIterator[FakeMeta]:
    async with FakeMeta() as fake:
        yield fake


@pytest.fixture
async def server(tmp_path: Path, meta: FakeMeta) -> AsyncIterator[ParleyServer]:
    transport = {"name": "wa-main", "role": "whatsapp", "kind": "whatsapp", "number": COMPANY, "rate": 20,
                 "phone_number_id": meta.phone_number_id, "waba_id": meta.waba_id, "access_token": meta.access_token,
                 "app_secret": meta.app_secret, "verify_token": "verify-me", "api_base": meta.api_base}  # fmt: skip
    numbers = [{"number": COMPANY, "sms": True, "whatsapp": True, "linked_service": "Support"}]
    parley = ParleyServer(tmp_path, extra_env={"PARLEY_RETRY_BASE_SECONDS": "0.2"})
    parley.apply(document(numbers=numbers, transports=[transport]))
    opt_out(parley, OPTED_OUT)
    meta.add_template("promo", "en_US", "MARKETING", "APPROVED", "Hi {{1}}, {{2}} off")
    await parley.start()
    try:
        await synced(parley, ALICE, approved=1)  # the templates are synced from the local Graph API at start
        yield parley
    finally:
        await parley.close()


def parameters(sent: dict[str, Any]) -> list[str]:
    [body] = [c for c in sent["template"]["components"] if c["type"] == "body"]
    return [p["text"] for p in body["parameters"]]


async def test_each_recipient_gets_the_template_filled_with_their_name_once_and_the_opted_out_nothing(
    server: ParleyServer, meta: FakeMeta
) -> None:
    meta.fail_next(400, 131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit")
    csv = "number,first_name\n" + "".join(f"+1555000000{i},Guest{i}\n" for i in range(6))
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE, timeout=30) as client:
        template = {"name": "promo", "language": "en_US", "variables": ["{first_name}", "20%"]}
        spec = {"name": "Promo", "channel": "whatsapp", "sender": COMPANY, "whatsapp_template": template}
        created = await client.post("/api/v2/campaigns", json=spec)
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        uploaded = await client.post(f"/api/v2/campaigns/{campaign_id}/recipients", files={"file": ("r.csv", csv)})
        assert uploaded.json()["added"] == 6
        assert (await client.post(f"/api/v2/campaigns/{campaign_id}/start")).status_code == 200

        await wait_until(lambda: len(meta.messages) == 5, timeout=30)
        for sent in meta.messages:  # Meta reports each delivered
            answer = await meta.post(
                f"{server.url}/api/v2/webhooks/whatsapp", meta.status(sent["id"], "delivered", to=sent["to"])
            )
            assert answer.status_code == 200

        async def completed() -> dict[str, Any] | None:
            found: dict[str, Any] = (await client.get(f"/api/v2/campaigns/{campaign_id}")).json()
            return found if found["status"] == "completed" else None

        final = await wait_until(completed, timeout=30)
    assert meta.problems == []
    sends = [r for r in meta.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert len(sends) == 6  # the throttled one went again
    by_number = {"+" + m["to"]: m for m in meta.messages}
    assert sorted(by_number) == [f"+1555000000{i}" for i in range(6) if f"+1555000000{i}" != OPTED_OUT]
    for number, sent in by_number.items():
        assert (sent["type"], sent["template"]["name"]) == ("template", "promo")
        assert parameters(sent) == [f"Guest{number[-1]}", "20%"]
    assert final["counters"] | {"total": 6, "delivered": 5, "failed": 0, "skipped": 1} == final["counters"]
