"""Sending an email to a running `parley serve` over real SMTP (Mail2SMS)."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

from tests.support.server import ParleyServer


async def deliver(server: ParleyServer, message: EmailMessage) -> tuple[int, str]:
    """One SMTP session; returns the server's answer to the DATA command."""

    def session() -> tuple[int, str]:
        with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as smtp:
            try:
                smtp.send_message(message)
            except smtplib.SMTPDataError as exc:
                return exc.smtp_code, exc.smtp_error.decode()
            return 250, "ok"

    return await asyncio.to_thread(session)
