"""Mail2SMS requests: the plain-text email that asks Parley to send an SMS (seed 001, issue 4 §5). Pure.

The body carries one ``KEY: value`` line per key, in any order, keys in any case, spaces around the ``:`` allowed::

    SENDSMS: TRUE
    FROMNUMBER: 101
    TONUMBER: +15551234567
    CCNUMBER: +447700900123, +447700900124
    SMSPASSWORD: secret
    MESSAGE: Your order is ready.
    It can be collected until 6 pm.

``MESSAGE`` runs on over the following lines until another key line or the end; other lines before it are ignored.
Everything from a signature delimiter line (``-- ``, RFC 3676 §4.3; also ``--``, as clients that trim trailing
spaces leave it) on is the signature and is ignored, keys included. Numbers, the extension and the password are
checked by the caller, not here; a key given twice is refused rather than guessed at.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from dataclasses import dataclass
from email.message import EmailMessage

from parley.core.characters import problem

_KEY_LINE = re.compile(r"\s*(SENDSMS|FROMNUMBER|TONUMBER|SMSPASSWORD|CCNUMBER|MESSAGE)\s*:(.*)", re.IGNORECASE)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # str.splitlines would also split at U+2028, form feed, …
_NUMBER_SEPARATOR = re.compile(r"[,;]")  # Outlook separates addresses with ";", people with ","
_ASCII = frozenset({"us-ascii", "ascii"})


class MailError(ValueError):
    """The email is not a usable Mail2SMS request. ``problems`` lists each problem; ``reason`` joins them in one
    line, fit for an SMTP reply."""

    def __init__(self, *problems: str) -> None:
        self.problems = tuple(problems)
        self.reason = "; ".join(problems)
        super().__init__(self.reason)


@dataclass(frozen=True)
class MailRequest:
    from_extension: str
    to: tuple[str, ...]  # TONUMBER, then the CCNUMBER entries; as written, duplicates removed, order kept
    password: str
    message: str


def parse_mail(text: str) -> MailRequest:
    """Read a Mail2SMS request from the decoded plain-text body of an email.

    Raises MailError naming every problem: ``SENDSMS: TRUE is missing``, ``SENDSMS is not TRUE``, ``FROMNUMBER is
    missing`` (or ``is empty``), likewise TONUMBER, SMSPASSWORD and MESSAGE, ``TONUMBER is given twice``, and a
    value holding a control character or a lone surrogate (``MESSAGE holds a NUL character (U+0000) …``).
    """
    values: dict[str, str] = {}
    message: list[str] = []
    problems: list[str] = []
    in_message = False
    for line in _LINE_BREAK.split(text):
        if line.rstrip() == "--":
            break
        key_line = _KEY_LINE.match(line)
        if key_line is None:
            if in_message:
                message.append(line)
            continue
        key, value = key_line.group(1).upper(), key_line.group(2)
        in_message = key == "MESSAGE"
        if key in values:
            problems.append(f"{key} is given twice")
            continue
        values[key] = value.strip()
        if in_message:
            message = [value]

    sendsms = values.get("SENDSMS")
    if sendsms is None:
        problems.append("SENDSMS: TRUE is missing")
    elif sendsms.upper() != "TRUE":
        problems.append("SENDSMS is not TRUE")
    to = _numbers(values.get("TONUMBER", ""))
    body = "\n".join(line.rstrip() for line in message).strip()
    # What each required key holds once read; "" is empty (a TONUMBER of only commas is empty too).
    required = {
        "FROMNUMBER": values.get("FROMNUMBER", ""),
        "TONUMBER": ", ".join(to),
        "SMSPASSWORD": values.get("SMSPASSWORD", ""),
        "MESSAGE": body,
    }
    for key, given in required.items():
        if key not in values:
            problems.append(f"{key} is missing")
        elif not given:
            problems.append(f"{key} is empty")
    # A NUL or a lone surrogate would fail at the database, not here (a 451 "try again" that never succeeds).
    checked = {**values, "MESSAGE": body} if "MESSAGE" in values else values
    problems += [p for key, value in checked.items() if (p := problem(key, value)) is not None]
    if problems:
        raise MailError(*problems)
    return MailRequest(
        from_extension=values["FROMNUMBER"],
        to=tuple(dict.fromkeys(to + _numbers(values.get("CCNUMBER", "")))),
        password=values["SMSPASSWORD"],
        message=body,
    )


def _numbers(value: str) -> list[str]:
    return [number.strip() for number in _NUMBER_SEPARATOR.split(value) if number.strip()]


def extract_text(message: EmailMessage) -> str | None:
    """The body of the email's first text/plain part, decoded; None when it has none (an HTML-only email).

    Attachments (parts with a filename or ``Content-Disposition: attachment``) and attached emails (message/rfc822)
    are not the body and are skipped. The transfer encoding (quoted-printable, base64) and the charset are decoded;
    a missing or wrong charset falls back to UTF-8, then Windows-1252. ``format=flowed`` text (RFC 3676, the default
    of Thunderbird and others) is unwrapped, so a long MESSAGE line comes back as the one line it was written as.
    """
    part = _first_text_part(message)
    if part is None:
        return None
    text = _decode(part)
    if str(part.get_param("format", "")).lower() == "flowed":
        text = _unflow(text, delsp=str(part.get_param("delsp", "")).lower() == "yes")
    return text


def _first_text_part(part: EmailMessage) -> EmailMessage | None:
    if part.get_content_maintype() == "message":
        return None
    if part.is_multipart():
        for child in part.iter_parts():
            if isinstance(child, EmailMessage):
                found = _first_text_part(child)
                if found is not None:
                    return found
        return None
    attachment = part.get_content_disposition() == "attachment" or part.get_filename() is not None
    return part if part.get_content_type() == "text/plain" and not attachment else None


def _decode(part: EmailMessage) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    declared = part.get_content_charset()
    # A declared charset comes first, unless it is ASCII: mail labelled us-ascii often carries UTF-8.
    charsets = [declared] if declared and declared not in _ASCII else []
    for charset in [*charsets, "utf-8"]:
        try:
            return payload.decode(charset)
        except (LookupError, ValueError):  # unknown; or `undefined` (UnicodeError), a NUL in the name (ValueError)
            continue
    return payload.decode("cp1252", errors="replace")


def _unflow(text: str, *, delsp: bool) -> str:
    """RFC 3676 §4: a line ending in a space continues on the next; a leading space was added for transport.

    Quote depth (§4.5) is not tracked: a Mail2SMS request is written, not quoted from another mail.
    """
    lines: list[str] = []
    current = ""
    for line in _LINE_BREAK.split(text):
        if line.startswith(" "):
            line = line[1:]  # §4.4 space-stuffing
        soft = line.endswith(" ") and line != "-- "
        current += line[:-1] if soft and delsp else line
        if not soft:
            lines.append(current)
            current = ""
    if current:
        lines.append(current)
    return "\n".join(lines)


@dataclass(frozen=True)
class Email:
    """What Parley reads of a raw email: the address of its From: header ("" when none) and its text
    (`extract_text`; None when it has no text/plain part)."""

    sender: str
    text: str | None


def read_email(raw: bytes) -> Email:
    """Parse a raw email; MailError when it cannot be parsed at all.

    The standard library's parser reads headers lazily and, on some malformed ones, fails with whatever its code met
    (``Content-Type: text/plain; a*`` is an IndexError), so every failure while parsing is taken as what it is: this
    email cannot be read, now or on a later try.
    """
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        if not isinstance(message, EmailMessage):  # pragma: no cover - the default policy makes EmailMessages
            raise MailError("The message could not be read")
        _, sender = email.utils.parseaddr(str(message.get("From", "")))
        return Email(sender, extract_text(message))
    except MailError:
        raise
    except Exception as exc:
        raise MailError(f"The email could not be read ({type(exc).__name__} in its headers or MIME structure)") from exc
