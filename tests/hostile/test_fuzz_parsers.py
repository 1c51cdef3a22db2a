"""Every parser that reads the outside world, fed arbitrary bytes and structured-but-odd values (hypothesis).

Each either returns what it reads or raises its own module's error — never anything else — and what it returns can
be stored (no NUL, no lone surrogate, within the column's length). SMPP PDUs, webhook bodies, emails and curl lines
here; CSV files in test_fuzz_recipients.py.
"""

from __future__ import annotations

import contextlib
import email.policy
import json
import struct
from datetime import UTC, timedelta, timezone
from email.message import EmailMessage
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.channels.base import Inbound, Receipt
from parley.channels.curl_command import CurlCommandError, CurlTemplate, parse_curl
from parley.channels.smpp import parse_mo
from parley.channels.smpp_pdu import (
    HEADER,
    PDU_TYPES,
    DeliverSm,
    PduError,
    Tag,
    decode,
    encode,
    parse_udh,
)
from parley.channels.smpp_receipts import parse_receipt
from parley.channels.webhook_formats import (
    MAX_CARRIER_ID_LENGTH,
    MAX_TEXT_LENGTH,
    InboundWebhook,
    WebhookError,
    parse_generic,
    parse_twilio,
    public_url,
    verify_generic,
    verify_twilio,
)
from parley.core.mail2sms import MailError, MailRequest, parse_mail, read_email
from parley.ingress.inputs import EARLIEST, LATEST, text_problem

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Strings as they arrive from the outside: anything, with the characters that break things made likely.
odd_chars = st.sampled_from(["\x00", "\ud800", "\udfff", "\u2028", "\ufeff", "\x1b", "²", "١", "😀", "\r\n", "%00"])
odd_text = st.one_of(
    st.text(),
    st.lists(st.one_of(odd_chars, st.text(max_size=5)), max_size=8).map("".join),
    st.text(alphabet="0123456789+ ", max_size=20),
    st.integers(min_value=0, max_value=3000).map(lambda n: "x" * n),
)
odd_dates = st.one_of(
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12))])).map(
        lambda d: d.isoformat()
    ),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2024-06-03T09:00:00", "2024-13-40"]),
    odd_text,
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(), odd_text
)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner))


def assert_storable(*texts: str) -> None:
    for text in texts:
        assert text_problem(text) is None, repr(text)


# --- SMPP ------------------------------------------------------------------------------------------------------------


def frame(command_id: int, body: bytes, *, status: int = 0, seq: int = 1) -> bytes:
    return HEADER.pack(HEADER.size + len(body), command_id, status, seq) + body


tlv = st.tuples(st.sampled_from([*Tag, 0x0000, 0xFFFF]), st.binary(max_size=80)).map(
    lambda t: struct.pack(">HH", t[0], len(t[1])) + t[1]
)
c_string = st.binary(max_size=30).map(lambda b: b.replace(b"\0", b"") + b"\0")


def _deliver_sm_body(strings: list[bytes], octets: bytes, sm: bytes, tlvs: list[bytes]) -> bytes:
    """§4.6.1 in order: service_type, source TON/NPI/addr, dest TON/NPI/addr, esm_class … sm_length, short_message."""
    fields = [strings[0], octets[:2], strings[1], octets[2:4], strings[2], octets[4:7], strings[3], strings[4]]
    return b"".join([*fields, octets[7:], bytes([len(sm)]), sm, *tlvs])


deliver_sm_body = st.builds(
    _deliver_sm_body,
    st.lists(c_string, min_size=5, max_size=5),
    st.binary(min_size=11, max_size=11),
    st.binary(max_size=255),
    st.lists(tlv, max_size=4),
)


def check_deliver_sm(pdu: DeliverSm) -> None:
    """What the channel does with a deliver_sm: a receipt or an MO; both must be storable."""
    receipt = parse_receipt(pdu)
    if receipt is not None:
        assert isinstance(receipt, Receipt)
        assert 0 < len(receipt.carrier_id) <= 65  # §5.2.23: a message_id is a C-Octet String of up to 65
        assert_storable(receipt.carrier_id, receipt.stat, receipt.err)
    mo = parse_mo(pdu, "US")
    assert isinstance(mo, Inbound)
    assert_storable(mo.sender, mo.to)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_decode_to_a_pdu_or_a_pdu_error(data: bytes) -> None:
    try:
        pdu = decode(data)
    except PduError:
        return
    if isinstance(pdu, DeliverSm):
        check_deliver_sm(pdu)


@FUZZ
@given(st.sampled_from(sorted(PDU_TYPES)), st.binary(max_size=300), st.integers(0, 2**32 - 1))
def test_any_body_of_a_known_command_decodes_or_is_a_pdu_error(command_id: int, body: bytes, seq: int) -> None:
    try:
        pdu = decode(frame(command_id, body, seq=seq))
    except PduError as exc:
        assert exc.sequence_number in (seq, 0)
        return
    assert pdu.sequence_number == seq
    if isinstance(pdu, DeliverSm):
        check_deliver_sm(pdu)


@FUZZ
@given(deliver_sm_body, st.sampled_from([0x00, 0x04, 0x20, 0x40, 0x44]), st.sampled_from([0, 1, 3, 8, 0xF1, 0x99]))
def test_a_well_framed_deliver_sm_with_odd_fields_is_read_or_refused(body: bytes, esm: int, coding: int) -> None:
    body = bytearray(body)
    try:
        pdu = decode(frame(DeliverSm.command_id, bytes(body)))
    except PduError:
        return
    assert isinstance(pdu, DeliverSm)
    check_deliver_sm(DeliverSm(**{**pdu.__dict__, "esm_class": esm, "data_coding": coding}))


@FUZZ
@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz:0123456789 _\x00", max_size=200),
    st.dictionaries(st.sampled_from([Tag.RECEIPTED_MESSAGE_ID, Tag.MESSAGE_STATE]), st.binary(max_size=120)),
)
def test_any_receipt_text_and_receipt_tlvs_give_a_storable_receipt_or_none(text: str, tlvs: dict[int, bytes]) -> None:
    pdu = DeliverSm(esm_class=0x04, short_message=text.encode("latin-1")[:254], tlvs=tlvs)
    check_deliver_sm(decode(encode(pdu)))  # through the wire and back, as it arrives


@FUZZ
@given(st.binary(max_size=200))
def test_any_user_data_header_is_split_or_refused_with_a_value_error(data: bytes) -> None:
    try:
        _, rest = parse_udh(data)
    except ValueError:
        return
    assert len(rest) < len(data)


# --- webhooks ---------------------------------------------------------------------------------------------------------


def check_webhook(hook: InboundWebhook) -> None:
    assert_storable(hook.sender, hook.to, hook.carrier_id, *hook.media)
    assert 0 < len(hook.carrier_id) <= MAX_CARRIER_ID_LENGTH
    assert len(hook.text) <= MAX_TEXT_LENGTH
    assert hook.received_at is None or EARLIEST <= hook.received_at < LATEST


twilio_params = st.fixed_dictionaries(
    {},
    optional={
        "From": st.one_of(st.just("+15557654321"), st.just("whatsapp:+15557654321"), odd_text),
        "To": st.one_of(st.just("+15551230001"), odd_text),
        "Body": odd_text,
        "MessageSid": odd_text,
        "SmsSid": odd_text,
        "NumMedia": st.one_of(st.sampled_from(["0", "1", "2", "10", "11", "²", "¹", "٣", " 3", "-1", "1e3"]), odd_text),
        "MediaUrl0": odd_text,
        "MediaUrl1": odd_text,
    },
)


@FUZZ
@given(twilio_params)
def test_any_twilio_form_is_a_storable_message_or_a_webhook_error(params: dict[str, str]) -> None:
    try:
        hook = parse_twilio(params)
    except WebhookError as exc:
        assert exc.status in (400, 413) and exc.field
        return
    check_webhook(hook)


generic_payloads = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "from": st.one_of(st.just("+15557654321"), json_values),
            "to": st.one_of(st.just("+15551230001"), json_values),
        },
        optional={
            "text": st.one_of(odd_text, json_values),
            "id": st.one_of(odd_text, st.integers(), json_values),
            "received_at": st.one_of(odd_dates, json_values),
            "media": st.one_of(st.lists(odd_text, max_size=12), json_values),
        },
    ),
)


@FUZZ
@given(generic_payloads)
def test_any_generic_json_is_a_storable_message_or_a_webhook_error(payload: Any) -> None:
    try:
        hook = parse_generic(payload, default_region="US")
    except WebhookError as exc:
        assert exc.status in (400, 413) and exc.field
        return
    check_webhook(hook)


@FUZZ
@given(st.binary(max_size=200))
def test_any_body_bytes_either_are_json_or_not_and_never_break_the_parser(body: bytes) -> None:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # what webhooks.py answers 400 for
        return
    with contextlib.suppress(WebhookError):
        check_webhook(parse_generic(payload))


@FUZZ
@given(odd_text, st.lists(st.tuples(odd_text, odd_text), max_size=4), odd_text, st.one_of(st.none(), odd_text))
def test_signatures_of_anything_verify_or_not_without_raising(
    url: str, params: list[tuple[str, str]], secret: str, header: str | None
) -> None:
    assert verify_twilio(url, params, secret, header) in (True, False)
    assert verify_generic(secret, url.encode("utf-8", "surrogatepass"), header) in (True, False)


@FUZZ
@given(
    odd_text,
    odd_text,
    st.dictionaries(st.sampled_from(["Forwarded", "X-Forwarded-Port", "X-Forwarded-Host"]), odd_text),
)
def test_the_public_url_of_any_proxy_headers_is_built_without_raising(
    host: str, path: str, headers: dict[str, str]
) -> None:
    assert isinstance(public_url("https", host, path, "", headers, True), str)


# --- emails ----------------------------------------------------------------------------------------------------------

header_params = st.one_of(
    st.sampled_from(["charset=utf-8", "charset=undefined", 'charset="utf\x008"', "charset=x-unknown", "a*",
                     "charset*=''", "charset*=utf-8''%FF", "format=flowed; delsp=yes", "boundary*", 'boundary=""',
                     "charset=utf-7", "charset=utf-16"]),
    odd_text.map(lambda s: s.replace("\r", "").replace("\n", "")),
)  # fmt: skip
content_types = st.builds(
    lambda kind, params: f"{kind}; {'; '.join(params)}",
    st.sampled_from(["text/plain", "text/html", "multipart/mixed", "multipart/alternative", "message/rfc822", "x/y"]),
    st.lists(header_params, max_size=3),
)
transfer_encodings = st.sampled_from(["", "base64", "quoted-printable", "7bit", "8bit", "x-uuencode", "bogus"])


@st.composite
def raw_emails(draw: st.DrawFn) -> bytes:
    headers = [f"Content-Type: {draw(content_types)}"]
    encoding = draw(transfer_encodings)
    if encoding:
        headers.append(f"Content-Transfer-Encoding: {encoding}")
    body = draw(st.one_of(odd_text, st.just("SENDSMS: TRUE\nFROMNUMBER: 101\nTONUMBER: +1555\nSMSPASSWORD: x\n")))
    if draw(st.booleans()):
        body += "MESSAGE: " + draw(odd_text)
    raw = "\r\n".join(headers) + "\r\n\r\n" + body
    return raw.encode("utf-8", "surrogatepass") + draw(st.binary(max_size=20))


def check_mail(text: str | None) -> None:
    if text is None:
        return
    try:
        request = parse_mail(text)
    except MailError as exc:
        assert exc.reason
        return
    assert isinstance(request, MailRequest)


@FUZZ
@given(st.one_of(st.binary(max_size=400), raw_emails()))
def test_any_email_gives_its_text_or_a_mail_error(raw: bytes) -> None:
    try:
        text = read_email(raw).text
    except MailError as exc:
        assert exc.reason
        return
    check_mail(text)


@FUZZ
@given(odd_text, st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_an_email_built_by_a_mail_client_reads_back(message: str, charset: str) -> None:
    mail = EmailMessage(policy=email.policy.SMTP)
    clean = message.encode("utf-8", "replace").decode("utf-8")
    try:
        mail.set_content(f"SENDSMS: TRUE\nMESSAGE: {clean}", charset=charset if charset != "utf-16" else "utf-8")
    except (ValueError, UnicodeError):
        return  # the mail library refuses to build it: nothing arrives
    check_mail(read_email(mail.as_bytes()).text)


# --- curl lines ------------------------------------------------------------------------------------------------------

CURL_WORDS = [
    *("-X", "POST", "-u", "user:{FROM}", "-H", "Content-Type: application/json", "-d", "--data-urlencode"),
    *("text={MESSAGE}", "--url", "https://sms.example.com/send?to={TO_NUMBER}", "-G", "-k", "-m", "5"),
    *("--connect-timeout", "1e999", "9" * 400, "'", '"', "\\", "{UNKNOWN}", "@file", "-H", "X:"),
    *("http://[::1", "ftp://x", "--data-binary", "-Lks", "--", "-"),
]
curl_words = st.one_of(st.sampled_from(CURL_WORDS), odd_text)
curl_lines = st.one_of(odd_text, st.lists(curl_words, max_size=10).map(lambda words: "curl " + " ".join(words)))
render_values = st.text().filter(lambda t: text_problem(t) is None)


@FUZZ
@given(curl_lines, render_values, render_values, render_values)
def test_any_curl_line_is_a_template_or_a_curl_command_error(line: str, to: str, message: str, sender: str) -> None:
    try:
        template = parse_curl(line)
    except CurlCommandError as exc:
        assert str(exc)
        return
    assert isinstance(template, CurlTemplate)
    assert isinstance(parse_curl(template.describe()), CurlTemplate)  # what the logs show reads back
    try:
        template.render(to=to, message=message, sender=sender)
    except ValueError as exc:  # the one refusal `render` documents: a line break or NUL in a header
        assert "header injection" in str(exc)
