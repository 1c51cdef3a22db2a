"""Mail2SMS over real SMTP sessions (smtplib) against `parley serve`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.mail import deliver
from tests.support.provisioning import document
from tests.support.server import ParleyServer

BODY = """SENDSMS: TRUE
FROMNUMBER: 101
TONUMBER: +15551234567
CCNUMBER: +447700900123, +447700900124
SMSPASSWORD: wildix-pass
MESSAGE: Your order is ready
"""


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ParleyServer]:
    parley = ParleyServer(tmp_path)
    parley.apply(document(mail2sms={"enabled": True, "password": "wildix-pass"}))
    await parley.start("--no-workers")
    try:
        yield parley
    finally:
        await parley.close()


def mail(body: str | None = BODY, html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "alice@example.com"
    message["To"] = "sms@parley.example.com"
    message["Subject"] = "SMS"
    if body is not None:
        message.set_content(body)
    if html is not None:
        if body is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    return message


async def messages(server: ParleyServer) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.url, auth=("101", "sms101api")) as client:
        return list((await client.get("/api/v2/messages")).json()["messages"])


async def test_an_email_sends_the_sms_to_tonumber_and_every_ccnumber(server: ParleyServer) -> None:
    assert await deliver(server, mail()) == (250, "ok")
    sent = await messages(server)
    assert sorted(m["to"] for m in sent) == ["+15551234567", "+447700900123", "+447700900124"]
    assert {m["body"] for m in sent} == {"Your order is ready"}
    assert {(m["user"], m["source"]) for m in sent} == {("101", "mail2sms")}


async def test_a_multipart_email_uses_its_plain_text_part(server: ParleyServer) -> None:
    assert (await deliver(server, mail(BODY, html="<p>ignored</p>")))[0] == 250
    assert len(await messages(server)) == 3


@pytest.mark.parametrize(
    ("body", "html", "reason"),
    [
        pytest.param(BODY.replace("wildix-pass", "guess"), None, "SMSPASSWORD is wrong", id="wrong-password"),
        pytest.param(BODY.replace("FROMNUMBER: 101", "FROMNUMBER: 999"), None, "FROMNUMBER 999", id="unknown-ext"),
        pytest.param(BODY.replace("MESSAGE: Your order is ready\n", ""), None, "MESSAGE is missing", id="no-message"),
        pytest.param(BODY.replace("SENDSMS: TRUE\n", ""), None, "SENDSMS", id="no-sendsms"),
        pytest.param(None, "<p>HTML only</p>", "text/plain", id="html-only"),
        pytest.param(BODY.replace("FROMNUMBER: 101", "FROMNUMBER: 103"), None, "license", id="license-too-low"),
    ],
)
async def test_a_refused_email_gets_a_5xx_naming_the_reason_and_nothing_is_sent(
    server: ParleyServer, body: str | None, html: str | None, reason: str
) -> None:
    code, text = await deliver(server, mail(body, html))
    assert 500 <= code < 600
    assert reason in text
    assert await messages(server) == []
