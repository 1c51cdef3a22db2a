"""Hostile emails to Mail2SMS (issue 9 §2): each was a 451, which a mail server retries for days. Now a permanent
5xx with the reason; only the database failing is temporary."""

from __future__ import annotations

import asyncio
import smtplib
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc

from parley.ingress.mail2sms import Mail2SmsHandler
from tests.hostile.conftest import MAIL2SMS_PASSWORD
from tests.support.server import ParleyServer

REQUEST = f"SENDSMS: TRUE\r\nFROMNUMBER: 101\r\nTONUMBER: +15551234567\r\nSMSPASSWORD: {MAIL2SMS_PASSWORD}\r\n"


def raw_mail(content_type: str, body: str) -> bytes:
    head = f"From: a@example.com\r\nTo: sms@parley\r\nSubject: SMS\r\nContent-Type: {content_type}\r\n\r\n"
    return (head + body).encode("utf-8", "surrogateescape")


def deliver(server: ParleyServer, raw: bytes) -> tuple[int, str]:
    """The server's answer to the DATA command of one SMTP session."""
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as smtp:
        try:
            smtp.sendmail("a@example.com", ["sms@parley"], raw)
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code, exc.smtp_error.decode()
    return 250, "queued"


@pytest.mark.parametrize(
    ("content_type", "body", "code", "reason"),
    [
        pytest.param("text/plain; charset=utf-8", REQUEST + "MESSAGE: hi\x00there\r\n", 550, "MESSAGE", id="nul"),
        pytest.param("text/plain; charset=utf-8", REQUEST.replace("101", "1\x0001") + "MESSAGE: hi\r\n", 550,
                     "FROMNUMBER", id="nul-in-the-extension"),
        pytest.param("text/plain; a*", REQUEST + "MESSAGE: hi\r\n", 550, "could not be read", id="parser-indexerror"),
        pytest.param("multipart/mixed; boundary*", REQUEST + "MESSAGE: hi\r\n", 550, "could not be read",
                     id="multipart-parser-indexerror"),
        pytest.param('text/plain; charset="utf\x008"', REQUEST + "MESSAGE: hi\r\n", 250, "", id="nul-in-the-charset"),
        pytest.param("text/plain; charset=undefined", REQUEST + "MESSAGE: hi\r\n", 250, "", id="undefined-charset"),
    ],
)  # fmt: skip
def test_an_email_that_cannot_succeed_is_refused_for_good_and_a_bad_charset_falls_back_to_utf8(
    pg_server: ParleyServer, content_type: str, body: str, code: int, reason: str
) -> None:
    answer_code, answer = deliver(pg_server, raw_mail(content_type, body))
    assert answer_code == code, answer
    assert reason in answer


class FailingOutbox:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def send(self, _: Any) -> Any:
        raise self.error


class Directory:
    def __init__(self, *extensions: str) -> None:
        self.extensions = extensions or ("101",)

    async def config(self) -> Any:
        return SimpleNamespace(settings={"mail2sms": {"enabled": True, "password_hash": "stored"}})

    async def user(self, extension: str) -> Any:
        return SimpleNamespace(extension=extension) if extension in self.extensions else None


class RightPassword:
    async def check_secret(self, stored: str, given: str, key: str, address: str) -> bool:
        return given == MAIL2SMS_PASSWORD


def handle(handler: Mail2SmsHandler, raw: bytes) -> str:
    envelope = SimpleNamespace(original_content=raw, content=None, mail_from="a@example.com")
    session = SimpleNamespace(peer=("127.0.0.1", 2525))
    return asyncio.run(handler.handle_DATA(None, session, envelope))  # type: ignore[arg-type]


class _Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _dbapi(kind: type[sa_exc.DBAPIError], sqlstate: str | None) -> sa_exc.DBAPIError:
    return kind("INSERT …", None, _Orig(sqlstate) if sqlstate else Exception("no sqlstate"))


@pytest.mark.parametrize(
    ("error", "code"),
    [
        pytest.param(ConnectionRefusedError(111, "refused"), "451", id="database-unreachable"),
        pytest.param(_dbapi(sa_exc.DBAPIError, "57P03"), "451", id="database-starting-up"),
        pytest.param(_dbapi(sa_exc.DBAPIError, "53300"), "451", id="too-many-connections"),
        pytest.param(_dbapi(sa_exc.DBAPIError, "40001"), "451", id="serialization-failure"),
        pytest.param(_dbapi(sa_exc.OperationalError, None), "451", id="sqlite-database-locked"),
        pytest.param(_dbapi(sa_exc.DBAPIError, "22021"), "554", id="a-value-postgresql-refuses"),
        pytest.param(UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), "554", id="unencodable"),
        pytest.param(KeyError("bug"), "554", id="any-other-failure"),
    ],
)
def test_only_a_database_outage_is_a_temporary_failure(error: Exception, code: str) -> None:
    handler = Mail2SmsHandler(FailingOutbox(error), Directory(), RightPassword())  # type: ignore[arg-type]
    answer = handle(handler, raw_mail("text/plain", REQUEST + "MESSAGE: hi\r\n"))
    assert answer.startswith(code), answer


def test_a_reply_quoting_the_email_is_one_line_of_ascii() -> None:
    handler = Mail2SmsHandler(FailingOutbox(KeyError()), Directory(), RightPassword())  # type: ignore[arg-type]
    body = REQUEST.replace("FROMNUMBER: 101", "FROMNUMBER: 1\u00e9\u2028x") + "MESSAGE: hi\r\n"
    answer = handle(handler, raw_mail("text/plain; charset=utf-8", body))
    assert answer.startswith("550 5.1.1 FROMNUMBER 1\\xe9")
    assert answer.isascii() and "\n" not in answer and "\r" not in answer
