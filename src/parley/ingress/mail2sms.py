"""Mail2SMS (seed 001): an SMTP server; a plain-text email with SENDSMS/FROMNUMBER/TONUMBER/SMSPASSWORD/
MESSAGE lines sends an SMS as that user to TONUMBER and every CCNUMBER.

The SMTP answer is the verdict: 250 only once the messages are durable; 5xx with the reason otherwise
(wrong password, unknown extension, missing lines, no text/plain part), so the sender's mail client
reports the problem to the person who wrote the email.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hmac
from email.message import EmailMessage
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from parley.core.mail2sms import MailError, extract_text, parse_mail
from parley.core.outbound import OutboundError
from parley.services.directory import DirectoryCache
from parley.services.passwords import verify_password
from parley.services.send import Outbox, SendSms

log = structlog.get_logger()

MAX_MESSAGE_BYTES = 1_000_000


class Mail2SmsHandler:
    def __init__(self, outbox: Outbox, cache: DirectoryCache) -> None:
        self._outbox = outbox
        self._cache = cache

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        try:
            return await self._handle(envelope)
        except Exception:
            log.exception("mail2sms.failed")
            return "451 4.3.0 Temporary failure; the message was not sent, try again"

    async def _handle(self, envelope: Envelope) -> str:
        profile = (await self._cache.config()).settings.get("mail2sms")
        if not isinstance(profile, dict) or not profile.get("enabled"):
            return "550 5.7.1 Mail2SMS is not enabled on this server"
        raw = envelope.original_content or envelope.content
        if not isinstance(raw, bytes):
            raw = str(raw).encode()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        if not isinstance(message, EmailMessage):  # pragma: no cover - the default policy makes EmailMessages
            return "550 5.6.0 The message could not be read"
        text = extract_text(message)
        if text is None:
            return "550 5.6.0 The email has no text/plain part; send it as plain text"
        try:
            request = parse_mail(text)
        except MailError as exc:
            return f"550 5.6.0 {exc.reason}"
        if not _password_ok(profile, request.password):
            return "550 5.7.8 SMSPASSWORD is wrong"
        user = await self._cache.user(request.from_extension)
        if user is None:
            return f"550 5.1.1 FROMNUMBER {request.from_extension} is not a user of this PBX"
        try:
            result = await self._outbox.send(
                SendSms(user=user, destinations=request.to, text=request.message, source="mail2sms")
            )
        except OutboundError as exc:
            return f"550 5.6.0 {exc.reason}"
        queued = len(result.messages)
        if result.refused:
            refused = ", ".join(f"{r.given} ({r.reason})" for r in result.refused)
            return f"250 2.0.0 {queued} SMS queued; not sent to: {refused}"[:500]
        return f"250 2.0.0 {queued} SMS queued"


def _password_ok(profile: dict[str, Any], password: str) -> bool:
    stored = profile.get("password_hash")
    if isinstance(stored, str) and stored:
        return verify_password(stored, password)
    plain = profile.get("password")
    return isinstance(plain, str) and bool(plain) and hmac.compare_digest(plain.encode(), password.encode())


async def start_smtp(handler: Mail2SmsHandler, host: str, port: int) -> asyncio.Server:
    """An SMTP server on this process's event loop (aiosmtpd's protocol without its thread controller)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, data_size_limit=MAX_MESSAGE_BYTES, hostname="parley", ident="Parley Mail2SMS"),
        host=host,
        port=port,
    )
