"""Sending from a toll-free number that is not verified (issue 14 §6): allowed, limited a day, or refused with the
reason, through the native API; the console's numbers page shows the state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.app import ALICE, console_client, in_process
from tests.support.provisioning import document

TOLL_FREE = "+18005550100"


def doc(**toll_free: Any) -> dict[str, Any]:
    numbers = [{"number": TOLL_FREE, "linked_service": "Support", "toll_free": True, **toll_free}]
    users = [{**u, "office_number": TOLL_FREE} if u["extension"] == "101" else u for u in document()["users"]]
    services = [{"name": "Support", "static_members": ["101"], "sms_number": TOLL_FREE}]
    return document(numbers=numbers, users=users, services=services)


async def send(client: Any, *to: str) -> Any:
    return await client.post("/api/v2/messages", json={"to": list(to), "text": "Your order is ready"})


async def test_an_unverified_toll_free_number_under_refuse_sends_nothing_and_says_why(tmp_path: Path) -> None:
    state = doc(verification="pending", unverified_sending="refuse")
    async with in_process(tmp_path, state) as app, app.client(ALICE) as alice:
        refused = await send(alice, "+15557654321")
    assert refused.status_code == 422
    assert "toll-free number whose verification is pending" in refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "from"]


async def test_under_limit_the_daily_count_is_kept_and_then_refused(tmp_path: Path) -> None:
    async with in_process(tmp_path, doc(unverified_sending="limit", unverified_limit=2)) as app, app.client(ALICE) as c:
        first = await send(c, "+15557654321", "+15557654322")
        third = await send(c, "+15557654323")
    assert first.status_code == 201 and len(first.json()["messages"]) == 2
    assert third.status_code == 422 and "at most 2 messages in 24 hours" in third.text


async def test_a_verified_toll_free_number_sends_and_the_console_shows_each_state(tmp_path: Path) -> None:
    business = {"business_name": "ACME Inc.", "website": "https://acme.example"}
    async with in_process(
        tmp_path, doc(verification="verified", unverified_sending="refuse", business=business)
    ) as app:
        async with app.client(ALICE) as alice:
            sent = await send(alice, "+15557654321")
            listed = (await alice.get("/api/v2/numbers")).json()
        async with console_client(app, ALICE) as (console, csrf):
            page = (await console.get("/admin/numbers")).text
            added = await console.post(
                "/admin/numbers/new",
                data={"csrf": csrf, "number": "+18885550101", "sms": "on", "toll_free": "on",
                      "verification": "pending", "unverified_sending": "limit", "unverified_limit": "100"},
            )  # fmt: skip
            after = (await console.get("/admin/numbers")).text
    assert sent.status_code == 201
    (number,) = [n for n in listed if n["number"] == TOLL_FREE]
    assert number["toll_free"]["verification"] == "verified" and number["toll_free"]["business"] == business
    assert "toll-free, verified" in page
    assert added.status_code == 303, added.text
    assert "toll-free, pending (sending limited to 100 a day)" in after
