"""MMS through the HTTP carriers, end to end (issue 11, "Done when"): a running `parley serve` with its workers, a
local "Twilio" and a local "Telnyx" that speak the providers' wire formats, and real HTTP clients.

A customer's picture arrives by webhook, is fetched with the account's credentials and shown to the agents; the
agent answers with a picture; the carrier receives a signed media URL, fetches the file from Parley without a
session, and its status callbacks turn the message delivered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.fake_telnyx import FakeTelnyx
from tests.support.fake_twilio import FakeTwilio, tiny_png
from tests.support.provisioning import document
from tests.support.server import ParleyServer, wait_until

ALICE = ("101", "sms101api")
COMPANY = "+15551230001"
CUSTOMER = "+15557654321"
SID = "AC" + "5" * 32
TOKEN = "e2e-twilio-auth-token"


@asynccontextmanager
async def parley_with(tmp_path: Path, transport: dict[str, Any]) -> AsyncIterator[ParleyServer]:
    """`parley serve` (with workers) whose company number is served by ``transport`` and has MMS."""
    server = ParleyServer(tmp_path)
    server.env["PARLEY_PUBLIC_URL"] = server.url
    numbers = [{"number": COMPANY, "sms": True, "mms": True, "linked_service": "Support", "carrier": transport["name"]}]
    server.apply(document(numbers=numbers, transports=[transport]))
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def conversation_with_media(api: httpx.AsyncClient, count: int) -> dict[str, Any] | None:
    """The customer's conversation once its inbound message has ``count`` files fetched, else None."""
    listed = (await api.get("/api/v2/conversations")).json()
    for conversation in listed:
        if conversation["external_number"] != CUSTOMER:
            continue
        timeline = (await api.get(f"/api/v2/conversations/{conversation['id']}/messages")).json()["messages"]
        inbound = [m for m in timeline if m["direction"] == "in"]
        if inbound and [f["state"] for f in inbound[0]["media"]] == ["ready"] * count:
            return {"conversation": conversation, "message": inbound[0]}
    return None


async def reply_with_picture(api: httpx.AsyncClient, conversation_id: str, picture: bytes) -> dict[str, Any]:
    uploaded = await api.post("/api/v2/media", files={"file": ("reply.png", picture, "image/png")})
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["content_type"] == "image/png"
    posted = await api.post(
        f"/api/v2/conversations/{conversation_id}/messages",
        json={"text": "Here you are", "media": [uploaded.json()["id"]]},
    )
    assert posted.status_code == 201, posted.text
    sent = posted.json()["messages"]
    assert [m["channel"] for m in sent] == ["sms", "mms"]
    assert sent[1]["media"][0]["id"] == uploaded.json()["id"]
    return dict(sent[1])


async def status_of(api: httpx.AsyncClient, message_id: str) -> str:
    return str((await api.get(f"/api/v2/messages/{message_id}")).json()["status"])


async def test_a_twilio_customer_sends_two_pictures_and_the_agent_answers_with_one(tmp_path: Path) -> None:
    async with FakeTwilio(account_sid=SID, auth_token=TOKEN) as twilio:
        transport = {"name": "twilio", "role": "carrier", "kind": "twilio", "account_sid": SID,
                     "auth_token": TOKEN, "api_base": twilio.url}  # fmt: skip
        async with (
            parley_with(tmp_path, transport) as server,
            httpx.AsyncClient(base_url=server.url, auth=ALICE) as api,
        ):
            inbound = await twilio.send_inbound(
                f"{server.url}/api/v2/webhooks/twilio", sender=CUSTOMER, to=COMPANY, body="Look", pictures=2
            )
            assert inbound.response.status_code == 200, inbound.response.text
            found = await wait_until(lambda: conversation_with_media(api, 2))
            message = found["message"]
            assert message["channel"] == "mms" and message["body"] == "Look"
            for served, media in zip(inbound.media, message["media"], strict=True):
                got = await api.get(media["url"])
                assert got.status_code == 200
                assert got.content == served.data
                assert got.headers["content-type"] == "image/png"

            picture = tiny_png((200, 30, 30), size=16)
            mms = await reply_with_picture(api, found["conversation"]["id"], picture)
            request = await wait_until(lambda: next((r for r in twilio.requests if r.media_urls), None))
            assert request.problems == []
            assert request.to == CUSTOMER and request.sender == COMPANY
            assert request.status_callback == f"{server.url}/api/v2/webhooks/twilio/status"
            [fetched] = await twilio.fetch_media_of(request)
            assert (fetched.status, fetched.body) == (200, picture)
            assert fetched.url.startswith(f"{server.url}/media/")
            await wait_until(lambda: _is(api, mms["id"], "sending"))
            await twilio.post_status(request, ["sent", "delivered"])
            await wait_until(lambda: _is(api, mms["id"], "delivered"))
            async with httpx.AsyncClient() as anonymous:
                assert (await anonymous.get(fetched.url.rsplit("/", 1)[0] + "/forged-token")).status_code in (404, 410)


async def test_a_telnyx_customer_sends_a_picture_and_the_agent_answers_with_one(tmp_path: Path) -> None:
    async with FakeTelnyx() as telnyx:
        transport = {"name": "telnyx", "role": "carrier", "kind": "telnyx", "api_key": telnyx.api_key,
                     "public_key": telnyx.public_key_b64, "api_base": telnyx.url}  # fmt: skip
        async with (
            parley_with(tmp_path, transport) as server,
            httpx.AsyncClient(base_url=server.url, auth=ALICE) as api,
        ):
            picture_in = tiny_png((10, 120, 10), size=12)
            response, _, _ = await telnyx.send_inbound(
                f"{server.url}/api/v2/webhooks/telnyx", sender=CUSTOMER, to=COMPANY, text="Hi",
                pictures=[(picture_in, "image/png")],
            )  # fmt: skip
            assert response.status_code == 200, response.text
            found = await wait_until(lambda: conversation_with_media(api, 1))
            assert (await api.get(found["message"]["media"][0]["url"])).content == picture_in

            picture = tiny_png((30, 30, 200), size=16)
            mms = await reply_with_picture(api, found["conversation"]["id"], picture)
            sent = await wait_until(lambda: next((m for m in telnyx.messages if m.media_urls), None))
            assert telnyx.problems == []
            [fetched] = await telnyx.fetch_media(sent)
            assert (fetched.status, fetched.body) == (200, picture)
            await wait_until(lambda: _is(api, mms["id"], "sending"))
            await telnyx.send_status(sent, "message.finalized", status="delivered")
            await wait_until(lambda: _is(api, mms["id"], "delivered"))


async def _is(api: httpx.AsyncClient, message_id: str, status: str) -> bool:
    return await status_of(api, message_id) == status
