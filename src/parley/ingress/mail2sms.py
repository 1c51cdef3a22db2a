"""Mail2SMS (seed 001): an SMTP server; a plain-text email with SENDSMS/FROMNUMBER/TONUMBER/SMSPASSWORD/
MESSAGE lines sends an SMS as that user to TONUMBER and every CCNUMBER.

The SMTP answer is the verdict: 250 only once the messages are durable; 5xx with the reason otherwise
(wrong password, unknown extension, missing lines, no text/plain part, an email that cannot be parsed), so the
sender's mail client reports the problem to the person who wrote the email. 451 (the mail server tries again, for
days) only when trying again can succeed: the database is unreachable or busy (`is_temporary`), or the sender is
throttled. Anything else that goes wrong with an email would go wrong again, so it is a permanent 554.

Trust: SMTP here has neither TLS nor AUTH, so the sender's address proves nothing by itself. A mail is
accepted when its sender matches the profile's ``allowed_senders`` (if any) and SMSPASSWORD is the profile
password; that password is checked like a user's (`Authenticator.check_secret`: off the event loop, at most
a few argon2 checks at once, throttled per sender and client address).
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from parley.core.mail2sms import MailError, MailRequest, parse_mail, read_email
from parley.core.mail_senders import sender_allowed
from parley.core.outbound import OutboundError
from parley.ingress.failures import is_temporary
from parley.ingress.inputs import text_problem
from parley.services.auth import Authenticator, Throttled
from parley.services.directory import DirectoryCache
from parley.services.send import Outbox, SendSms

log = structlog.get_logger()

MAX_MESSAGE_BYTES = 1_000_000


class Mail2SmsHandler:
    def __init__(self, outbox: Outbox, cache: DirectoryCache, auth: Authenticator) -> None:
        self._outbox = outbox
        self._cache = cache
        self._auth = auth

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        try:
            return reply_line(await self._handle(envelope, _peer_address(session)))
        except Exception as exc:
            log.exception("mail2sms.failed")
            if is_temporary(exc):
                return "451 4.3.0 Temporary failure; the message was not sent, try again"
            return f"554 5.6.0 The email could not be processed ({type(exc).__name__}); it was not sent"

    async def _handle(self, envelope: Envelope, address: str) -> str:
        profile = (await self._cache.config()).settings.get("mail2sms")
        if not isinstance(profile, dict) or not profile.get("enabled"):
            return "550 5.7.1 Mail2SMS is not enabled on this server"
        raw = envelope.original_content or envelope.content
        if not isinstance(raw, bytes):
            raw = str(raw).encode()
        try:
            mail = read_email(raw)
            if mail.text is None:
                return "550 5.6.0 The email has no text/plain part; send it as plain text"
            request = parse_mail(mail.text)
        except MailError as exc:
            return f"550 5.6.0 {exc.reason}"
        unstorable = _unstorable(request)
        if unstorable is not None:
            return f"550 5.6.0 {unstorable}"
        refused = _sender_refused(profile, envelope, mail.sender)
        if refused is not None:
            return f"550 5.7.1 {refused}"
        sender = (envelope.mail_from or "").lower()
        stored = profile.get("password_hash")
        try:
            right = (
                isinstance(stored, str)
                and bool(stored)
                and await self._auth.check_secret(stored, request.password, f"mail2sms:{sender}", address)
            )
        except Throttled as exc:  # temporary: the sender's mail server tries again later
            return f"451 4.7.1 Too many wrong SMSPASSWORDs from this sender: try again in {exc.retry_after} s"
        if not right:
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
            return f"250 2.0.0 {queued} SMS queued; not sent to: {refused}"
        return f"250 2.0.0 {queued} SMS queued"


def _peer_address(session: Session) -> str:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer or "unknown")


def _sender_refused(profile: dict[str, Any], envelope: Envelope, header_from: str) -> str | None:
    """Why the sender may not use Mail2SMS, or None: the envelope's MAIL FROM and the From: header must both
    match ``allowed_senders`` (when the profile has any)."""
    patterns = profile.get("allowed_senders") or []
    if not patterns:
        return None
    for address in (envelope.mail_from or "", header_from):
        if not sender_allowed(patterns, address):
            return f"the sender {address or '<>'} is not allowed to use Mail2SMS"
    return None


def _unstorable(request: MailRequest) -> str | None:
    """Why a value of the request cannot reach the database (a NUL: PostgreSQL refuses it), or None."""
    values = [
        ("FROMNUMBER", request.from_extension), ("SMSPASSWORD", request.password), ("MESSAGE", request.message),
        *(("TONUMBER or CCNUMBER", number) for number in request.to),
    ]  # fmt: skip
    for key, value in values:
        problem = text_problem(value)
        if problem is not None:
            return f"{key} {problem}"
    return None


def reply_line(answer: str) -> str:
    """An SMTP reply fit for the wire: one line (RFC 5321 §4.5.3.1.5: at most 512 octets with its CRLF) of ASCII.

    Reasons quote the email (an extension, a number), and aiosmtpd encodes replies as ASCII: anything else is escaped.
    """
    flat = " ".join(answer.splitlines())
    return flat.encode("ascii", "backslashreplace").decode("ascii")[:500]


async def start_smtp(handler: Mail2SmsHandler, host: str, port: int) -> asyncio.Server:
    """An SMTP server on this process's event loop (aiosmtpd's protocol without its thread controller)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, data_size_limit=MAX_MESSAGE_BYTES, hostname="parley", ident="Parley Mail2SMS"),
        host=host,
        port=port,
    )
