"""Authentication against a real `parley serve`: live streams that end with their authorisation, Mail2SMS senders
and throttling, and logs that never carry a secret."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from tests.support.console_http import sign_in
from tests.support.http_sink import HttpSink
from tests.support.mail import deliver
from tests.support.provisioning import document
from tests.support.server import ParleyServer, wait_until

ALICE, BOB = ("101", "sms101api"), ("102", "bob-secret")
SMS_PASSWORD = "Mail2smsS3cret"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ParleyServer]:
    parley = ParleyServer(tmp_path)
    mail2sms = {"enabled": True, "password": SMS_PASSWORD, "allowed_senders": ["*@example.com"]}
    parley.apply(document(mail2sms=mail2sms))
    await parley.start("--no-workers")
    try:
        yield parley
    finally:
        await parley.close()


async def stream_ends(http: httpx.AsyncClient, change: object, timeout: float = 20) -> None:
    """Open the event stream, make ``change`` happen, and wait for the server to end the stream."""
    async with http.stream("GET", "/api/v2/events") as stream:
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        assert (await anext(lines)).startswith(": connected")
        await change()  # type: ignore[operator]
        async with asyncio.timeout(timeout):
            async for _ in lines:
                pass


async def test_a_console_event_stream_ends_when_its_session_signs_out(server: ParleyServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=httpx.Timeout(10, read=None)) as browser:
        csrf = await sign_in(browser, BOB)

        async def sign_out() -> None:
            async with httpx.AsyncClient(base_url=server.url, cookies=browser.cookies) as other_tab:
                assert (await other_tab.post("/logout", headers={"X-CSRF-Token": csrf})).status_code == 303

        await stream_ends(browser, sign_out)


async def test_a_console_event_stream_ends_when_its_user_is_demoted(server: ParleyServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=httpx.Timeout(10, read=None)) as browser:
        await sign_in(browser, ALICE)  # an admin: the stream carries everyone's events

        async def demote() -> None:
            doc = document(mail2sms={"enabled": True, "password": SMS_PASSWORD})
            doc["users"] = [{**u, "role": "user"} if u["extension"] == "101" else u for u in doc["users"]]
            await asyncio.to_thread(server.apply, doc)

        await stream_ends(browser, demote)


def mail(sender: str, password: str = SMS_PASSWORD, from_number: str = "101") -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "sms@parley.example.com"
    message["Subject"] = "SMS"
    message.set_content(
        f"SENDSMS: TRUE\nFROMNUMBER: {from_number}\nTONUMBER: +15551234567\nSMSPASSWORD: {password}\nMESSAGE: Hi\n"
    )
    return message


async def test_mail2sms_refuses_senders_not_allowed_before_looking_at_the_password(server: ParleyServer) -> None:
    code, text = await deliver(server, mail("mallory@evil.example"))
    assert code == 550
    assert "mallory@evil.example is not allowed to use Mail2SMS" in text
    assert (await deliver(server, mail("alice@example.com")))[0] == 250


async def test_mail2sms_wrong_passwords_are_throttled_per_sender(server: ParleyServer) -> None:
    for _ in range(3):
        code, text = await deliver(server, mail("mallory@example.com", password="guess"))
        assert (code, text) == (550, "5.7.8 SMSPASSWORD is wrong")
    code, text = await deliver(server, mail("mallory@example.com"))  # the right one, inside the wait
    assert code == 451
    assert "try again in" in text
    assert (await deliver(server, mail("alice@example.com")))[0] == 250  # another sender is not held back


async def test_no_secret_reaches_the_log(tmp_path: Path) -> None:
    """Each kind of secret goes through a path that fails and logs; the whole log is then searched for it."""
    curl_password, basic_password, console_password = "CurlS3cret-77", "BasicGuess-88", "ConsoleGuess-99"
    server = ParleyServer(tmp_path, extra_env={"PARLEY_LOG_LEVEL": "info"})
    # An answer nested too deep for the JSON reader fails the curl channel unexpectedly: a logged traceback.
    sink = HttpSink(body="[" * 100_000 + "]" * 100_000)
    await sink.__aenter__()
    doc = document(mail2sms={"enabled": True, "password": SMS_PASSWORD})
    command = f'curl -u acct:{curl_password} --url "{sink.url}/send?to={{TO_NUMBER}}&text={{MESSAGE}}"'
    doc["transports"] = [{"name": "sms-server", "role": "curl", "command": command}]
    server.apply(doc)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            sms = {"number": "+15551234567", "message": "Hello"}
            assert (await http.post("/api/v1/originate/sms", data=sms, auth=ALICE)).status_code == 200
            await wait_until(lambda: "dispatch.error" in server.log.read_text(), timeout=30)
            answer = await http.post("/api/v1/originate/sms", data=sms, auth=(ALICE[0], basic_password))
            assert answer.status_code == 401
            form = (await http.get("/login")).text
            token = re.search(r'name="csrf" value="([^"]+)"', form)
            assert token is not None
            answer = await http.post(
                "/login", data={"extension": ALICE[0], "password": console_password, "csrf": token.group(1)}
            )
            assert answer.status_code == 401
        # Every send from now on fails inside the database: Mail2SMS logs the failure with its traceback.
        with sqlite3.connect(tmp_path / "parley.db") as conn:
            conn.execute("CREATE TRIGGER no_sends BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'no'); END")
        # (permanent: the database answered, it did not go away, so trying again would fail again)
        assert (await deliver(server, mail("alice@example.com")))[0] == 554
        await wait_until(lambda: "mail2sms.failed" in server.log.read_text())
    finally:
        await server.close()
        await sink.__aexit__(None, None, None)
    log = server.log.read_text()
    assert "Traceback" in log  # the failures were logged, tracebacks included ...
    for secret in (SMS_PASSWORD, curl_password, basic_password, console_password):
        assert secret not in log  # ... and not one secret with them
