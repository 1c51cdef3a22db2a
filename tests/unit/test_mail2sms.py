"""Mail2SMS: reading the request lines of an email body, and finding the body in an email."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.mail2sms import MailError, MailRequest, extract_text, parse_mail

BODY = """SENDSMS: TRUE
FROMNUMBER: 101
TONUMBER: +15551234567
CCNUMBER: +447700900123, +447700900124
SMSPASSWORD: wildix-pass
MESSAGE: Your order is ready
"""
REQUEST = MailRequest(
    from_extension="101",
    to=("+15551234567", "+447700900123", "+447700900124"),
    password="wildix-pass",
    message="Your order is ready",
)
MINIMAL = "SENDSMS: TRUE\nFROMNUMBER: 101\nTONUMBER: +15551234567\nSMSPASSWORD: pw\n"


def request(message: str, to: tuple[str, ...] = ("+15551234567",)) -> MailRequest:
    return MailRequest(from_extension="101", to=to, password="pw", message=message)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(BODY, REQUEST, id="the-seed-example"),
        pytest.param(BODY.replace("\n", "\r\n"), REQUEST, id="crlf"),
        pytest.param("\n".join(reversed(BODY.splitlines())), REQUEST, id="any-order"),
        pytest.param(
            "".join(line.lower() if not line.startswith("MESSAGE") else line for line in BODY.splitlines(True)).replace(
                "message", "Message"
            ),
            REQUEST,
            id="keys-and-true-in-any-case",
        ),
        pytest.param(
            BODY.replace("SENDSMS: TRUE", "  SendSms :True ").replace("TONUMBER: ", "TONUMBER  :  "),
            REQUEST,
            id="spaces-around-the-colon",
        ),
        pytest.param(
            "Hello,\nplease send this.\n\n" + BODY + "\nThanks!\n",
            MailRequest("101", REQUEST.to, "wildix-pass", "Your order is ready\n\nThanks!"),
            id="text-before-the-keys-is-ignored-after-message-kept",
        ),
        pytest.param(MINIMAL + "MESSAGE: hi", request("hi"), id="no-ccnumber"),
        pytest.param(MINIMAL + "CCNUMBER:\nMESSAGE: hi", request("hi"), id="empty-ccnumber"),
        pytest.param(
            MINIMAL + "CCNUMBER: +15550000001; +15550000002 ,, +15551234567\nMESSAGE: hi",
            request("hi", ("+15551234567", "+15550000001", "+15550000002")),
            id="cc-separated-by-semicolons-and-commas-deduplicated",
        ),
        pytest.param(
            MINIMAL.replace("+15551234567", "+15551234567, +15550000001") + "MESSAGE: hi",
            request("hi", ("+15551234567", "+15550000001")),
            id="several-tonumbers",
        ),
        pytest.param(
            MINIMAL + "MESSAGE: Line one\nLine two\n\n  indented line\n",
            request("Line one\nLine two\n\n  indented line"),
            id="message-continues-over-lines",
        ),
        pytest.param(
            "MESSAGE: Your order is ready.\nCollect it today.\n" + MINIMAL,
            request("Your order is ready.\nCollect it today."),
            id="message-ends-at-the-next-key",
        ),
        pytest.param(
            MINIMAL + "MESSAGE:\n  Hello there   \n\n\n",
            request("Hello there"),
            id="message-on-the-next-line-trimmed",
        ),
        pytest.param(
            MINIMAL + "MESSAGE: Note: time is 10:30 \t\nBye",
            request("Note: time is 10:30\nBye"),
            id="colons-in-the-message-and-trailing-spaces",
        ),
        pytest.param(
            MINIMAL + "MESSAGE: hi\n-- \nAlice Smith\nTONUMBER: +15550000009\n",
            request("hi"),
            id="signature-is-dropped-keys-in-it-too",
        ),
        pytest.param(
            MINIMAL + "MESSAGE: hi\n--\nAlice\n", request("hi"), id="signature-delimiter-with-trailing-space-trimmed"
        ),
        pytest.param(MINIMAL + "MESSAGE: Привет, 👋 café\n", request("Привет, 👋 café"), id="unicode-message"),
        pytest.param(
            MINIMAL.replace("SMSPASSWORD: pw", "SMSPASSWORD:   pw  ") + "MESSAGE: hi",
            request("hi"),
            id="password-trimmed",
        ),
        pytest.param(MINIMAL + "MESSAGE: a\u2028b\x0cc", request("a\u2028b\x0cc"), id="only-cr-and-lf-break-lines"),
    ],
)
def test_a_mail2sms_body_is_read_into_a_request(text: str, expected: MailRequest) -> None:
    assert parse_mail(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(BODY.replace("SENDSMS: TRUE\n", ""), "SENDSMS: TRUE is missing", id="no-sendsms"),
        pytest.param(BODY.replace("SENDSMS: TRUE", "SENDSMS: FALSE"), "SENDSMS is not TRUE", id="sendsms-false"),
        pytest.param(BODY.replace("SENDSMS: TRUE", "SENDSMS:"), "SENDSMS is not TRUE", id="sendsms-empty"),
        pytest.param(BODY.replace("FROMNUMBER: 101\n", ""), "FROMNUMBER is missing", id="no-fromnumber"),
        pytest.param(BODY.replace("FROMNUMBER: 101", "FROMNUMBER: "), "FROMNUMBER is empty", id="empty-fromnumber"),
        pytest.param(BODY.replace("TONUMBER: +15551234567\n", ""), "TONUMBER is missing", id="no-tonumber"),
        pytest.param(
            BODY.replace("TONUMBER: +15551234567", "TONUMBER: , ;"), "TONUMBER is empty", id="tonumber-commas"
        ),
        pytest.param(BODY.replace("SMSPASSWORD: wildix-pass\n", ""), "SMSPASSWORD is missing", id="no-password"),
        pytest.param(BODY.replace("MESSAGE: Your order is ready\n", ""), "MESSAGE is missing", id="no-message"),
        pytest.param(BODY.replace("Your order is ready", "  "), "MESSAGE is empty", id="empty-message"),
        pytest.param(
            BODY.replace("Your order is ready", "") + "-- \nAlice\n", "MESSAGE is empty", id="only-a-signature"
        ),
        pytest.param(BODY + "TONUMBER: +15550000009\n", "TONUMBER is given twice", id="key-twice"),
        pytest.param(
            "TONUMBER: +15551234567\nMESSAGE: hi\n",
            "SENDSMS: TRUE is missing; FROMNUMBER is missing; SMSPASSWORD is missing",
            id="every-problem-at-once",
        ),
        pytest.param(
            "",
            "SENDSMS: TRUE is missing; FROMNUMBER is missing; TONUMBER is missing; SMSPASSWORD is missing; "
            "MESSAGE is missing",
            id="empty-body",
        ),
        pytest.param(
            "-- \n" + BODY,
            "SENDSMS: TRUE is missing; FROMNUMBER is missing; TONUMBER is missing; SMSPASSWORD is missing; "
            "MESSAGE is missing",
            id="keys-after-a-signature-do-not-count",
        ),
    ],
)
def test_an_unusable_body_is_refused_naming_every_problem(text: str, reason: str) -> None:
    with pytest.raises(MailError) as caught:
        parse_mail(text)
    assert caught.value.reason == reason
    assert caught.value.problems == tuple(reason.split("; "))
    assert "\n" not in caught.value.reason  # it goes into a one-line SMTP reply


@given(st.text())
def test_any_text_is_either_a_request_or_a_mail_error(text: str) -> None:
    try:
        parsed = parse_mail(text)
    except MailError as exc:
        assert exc.problems
    else:
        assert parsed.to and parsed.message and parsed.password and parsed.from_extension


def plain(body: str = BODY, **kwargs: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "SMS ✓ über"
    message.set_content(body, **kwargs)  # type: ignore[arg-type]
    return message


def with_html_alternative() -> EmailMessage:
    message = plain()
    message.add_alternative("<p>ignored</p>", subtype="html")
    return message


def html_only() -> EmailMessage:
    message = EmailMessage()
    message.set_content("<p>SENDSMS: TRUE</p>", subtype="html")
    return message


def html_with_text_attachment() -> EmailMessage:
    message = html_only()
    message.add_attachment(BODY, filename="request.txt")
    return message


def html_with_forwarded_plain_mail() -> EmailMessage:
    message = html_only()
    message.add_attachment(plain())
    return message


def mixed_with_attachment_first() -> EmailMessage:
    message = EmailMessage()
    message.make_mixed()
    attachment = EmailMessage()
    attachment.set_content("not the body", disposition="attachment")
    message.attach(attachment)
    message.attach(with_html_alternative())
    return message


def flowed(delsp: bool) -> EmailMessage:
    message = EmailMessage()
    # RFC 3676 §4.2: a trailing space marks a soft break; with DelSp=yes that space was added by the sender and the
    # word's own space moves to the next line, which is then space-stuffed (§4.4).
    soft = "ready \r\n  for" if delsp else "ready \r\nfor"
    text = f"SENDSMS: TRUE\r\nMESSAGE: Your order is {soft} you.\r\nBye\r\n-- \r\nAlice\r\n"
    message.set_content(text.encode(), maintype="text", subtype="plain", cte="7bit")
    message.set_param("charset", "utf-8")
    message.set_param("format", "flowed")
    if delsp:
        message.set_param("delsp", "yes")
    return message


def raw(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(plain(), BODY, id="plain"),
        pytest.param(with_html_alternative(), BODY, id="multipart-alternative"),
        pytest.param(html_only(), None, id="html-only"),
        pytest.param(html_with_text_attachment(), None, id="a-text-attachment-is-not-the-body"),
        pytest.param(html_with_forwarded_plain_mail(), None, id="a-forwarded-mail-is-not-the-body"),
        pytest.param(mixed_with_attachment_first(), BODY, id="body-after-an-attachment"),
        pytest.param(plain("MESSAGE: Grüße €\n", cte="quoted-printable"), "MESSAGE: Grüße €\n", id="quoted-printable"),
        pytest.param(plain("MESSAGE: Grüße €\n", cte="base64"), "MESSAGE: Grüße €\n", id="base64"),
        pytest.param(
            plain("MESSAGE: Grüße\n", charset="iso-8859-1", cte="quoted-printable"),
            "MESSAGE: Grüße\n",
            id="latin-1-charset",
        ),
        pytest.param(
            raw(b"Content-Type: text/plain; charset=us-ascii\n\nMESSAGE: Gr\xc3\xbc\xc3\x9fe\n"),
            "MESSAGE: Grüße\n",
            id="utf8-mislabelled-as-ascii",
        ),
        pytest.param(
            raw(b"Content-Type: text/plain; charset=x-unknown\n\nMESSAGE: Gr\xfc\xdfe\n"),
            "MESSAGE: Grüße\n",
            id="unknown-charset-falls-back-to-windows-1252",
        ),
        pytest.param(raw(b"Subject: no content type\n\nMESSAGE: hi\n"), "MESSAGE: hi\n", id="no-content-type"),
        pytest.param(
            flowed(delsp=False),
            "SENDSMS: TRUE\nMESSAGE: Your order is ready for you.\nBye\n-- \nAlice\n",
            id="format-flowed",
        ),
        pytest.param(
            flowed(delsp=True),
            "SENDSMS: TRUE\nMESSAGE: Your order is ready for you.\nBye\n-- \nAlice\n",
            id="format-flowed-delsp",
        ),
    ],
)
def test_the_body_is_the_first_plain_text_part(message: EmailMessage, expected: str | None) -> None:
    text = extract_text(message)
    assert (None if text is None else text.replace("\r\n", "\n")) == expected


def test_an_email_as_it_arrives_over_smtp_gives_the_request() -> None:
    sent = with_html_alternative()
    del sent["Subject"]
    sent["Subject"] = "Envoi SMS — ✓"
    received = raw(sent.as_bytes())
    text = extract_text(received)
    assert text is not None
    assert parse_mail(text) == REQUEST


def test_a_mail_error_made_from_one_reason_reads_as_that_reason() -> None:
    error = MailError("SENDSMS is not TRUE")
    assert (error.reason, error.problems, str(error)) == ("SENDSMS is not TRUE", ("SENDSMS is not TRUE",), error.reason)
