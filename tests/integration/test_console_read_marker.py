"""Opening a conversation in the console no longer marks it read; the page says so with a POST once it is seen
(issue 10): a GET — a prefetch, a link preview, a tab in the background — leaves the unread count alone."""

from __future__ import annotations

from pathlib import Path

from parley.channels.base import Inbound
from tests.support.app import InProcess, console_client, in_process
from tests.support.provisioning import document

BOB = ("102", "bob-secret")


def bob_takes_conversations() -> dict[str, object]:
    doc = document()
    doc["users"] = [{**u, "license": "business"} if u["extension"] == "102" else u for u in doc["users"]]
    return doc


async def a_customer_writes(app: InProcess) -> str:
    message_id = await app.parley.inbox.receive("carrier", Inbound("+15557654321", "+15551230001", "Is it ready?"))
    assert message_id is not None
    assert await app.parley.router.route_due() == 1
    async with app.client(BOB) as bob:
        [conversation] = (await bob.get("/api/v2/conversations")).json()
    return str(conversation["id"])


async def unread(app: InProcess) -> int:
    async with app.client(BOB) as bob:
        return int((await bob.get("/api/v2/conversations")).json()[0]["unread"])


async def test_viewing_a_conversation_leaves_it_unread_until_the_page_posts_that_it_was_read(tmp_path: Path) -> None:
    async with in_process(tmp_path, bob_takes_conversations()) as app:
        cid = await a_customer_writes(app)
        async with console_client(app, BOB) as (bob, csrf):
            page = await bob.get(f"/inbox/{cid}")
            assert page.status_code == 200
            assert f'data-read-url="/inbox/{cid}/read"' in page.text
            await bob.get(f"/inbox/{cid}/timeline", headers={"HX-Request": "true"})
            assert await unread(app) == 1
            assert (await bob.post(f"/inbox/{cid}/read")).status_code == 403  # no CSRF token: refused
            assert await unread(app) == 1
            read = await bob.post(f"/inbox/{cid}/read", headers={"X-CSRF-Token": csrf})
            assert read.status_code == 204
            assert read.headers["HX-Trigger"] == "inbox:read"
            assert await unread(app) == 0
