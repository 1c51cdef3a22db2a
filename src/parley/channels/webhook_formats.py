"""Inbound message webhooks: reading and authenticating what carriers and gateways POST to Parley (issue 3 §1). Pure.

Two forms are understood. Storing the message and answering the HTTP request are the caller's job.

**Twilio** (``application/x-www-form-urlencoded``): ``From``, ``To``, ``Body``, ``MessageSid`` (older: ``SmsSid``),
``NumMedia`` and ``MediaUrl0`` … ``MediaUrl{N-1}`` (an MMS when NumMedia > 0); WhatsApp addresses come as
``whatsapp:+1…``. Authenticity is the ``X-Twilio-Signature`` header: base64 HMAC-SHA1, keyed with the account's auth
token, over the exact URL Twilio called followed by every parameter's name and value, sorted by name (a repeated
name: each distinct value, sorted). Status callbacks are signed the same way (read by `parley.channels.twilio`).
Behind a reverse proxy that URL must be rebuilt from the forwarding headers (``public_url``); Twilio's SDKs accept
the URL with and without its port, and so do we.

**Generic JSON** — for SMS gateways and other systems (``Content-Type: application/json``)::

    {"from": "+15551230001",               required: the customer's number, E.164
     "to": "+15551230002",                 required: the company number it was sent to, E.164
     "text": "Hello",                      the message; may be empty only when media is given
     "id": "carrier-message-id",           required: the sender's id for the message (a redelivery is stored once)
     "received_at": "2024-06-03T09:00:00Z",  optional: ISO 8601 with an offset; default: when Parley received it
     "media": ["https://…"]}               optional: URLs of attachments

Unknown keys are ignored. Its authenticity: ``X-Parley-Signature: sha256=<hex>``, the hex HMAC-SHA256 of the raw
request body keyed with the webhook's shared secret — computed on the bytes as received, before JSON parsing.

**Hostile or broken payloads.** A carrier retries a webhook answered 5xx, possibly for ever, so what is wrong with a
payload is either stored anyway or refused with a 4xx naming the field — never a 5xx. A carrier id that cannot be a
key (longer than 100 characters, a NUL, a lone surrogate) is replaced by ``sha256:`` and its digest, so a redelivery
is still stored once; a ``received_at`` outside the years 1900–8999 is set aside for Parley's own time (with a note).
Refused: a text longer than ``MAX_TEXT_LENGTH`` (413), more than ``MAX_MEDIA`` attachments, a ``NumMedia`` that is not
a number of ASCII digits (``²`` is a digit to ``str.isdigit``, not to ``int``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from parley.core.numbers import InvalidNumber, parse_e164
from parley.core.values import instant, text_problem

TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
GENERIC_SIGNATURE_HEADER = "X-Parley-Signature"

Params = Mapping[str, str] | Sequence[tuple[str, str]]

_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<netloc>[^/?#]*)(?P<rest>.*)", re.DOTALL)
_DEFAULT_PORTS = {"https": "443", "http": "80"}
_WHATSAPP = "whatsapp:"
MAX_TEXT_LENGTH = 1600  # characters of one inbound message (Twilio's own limit for a concatenated SMS)
MAX_MEDIA = 10  # attachments of one message (Twilio's limit)
MAX_URL_LENGTH = 2048
MAX_CARRIER_ID_LENGTH = 100  # the messages table's `carrier_id` column
# RFC 7239 §4: forwarded-pair = token "=" ( token / quoted-string ), pairs joined by ";", elements by ",".
_FORWARDED_PAIR = re.compile(r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)\s*([;,]|$)')


class WebhookError(ValueError):
    """A webhook that cannot be taken as a message; ``field`` names the parameter at fault."""

    def __init__(self, field: str, reason: str, status: int = 400) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.status = status  # the HTTP status to answer with: 400, or 413 for a text over the limit


@dataclass(frozen=True)
class InboundWebhook:
    sender: str  # the customer, E.164
    to: str  # the company number, E.164
    text: str
    carrier_id: str  # the carrier's message id: a redelivery carries the same one
    media: tuple[str, ...]  # attachment URLs
    channel: Literal["sms", "mms", "whatsapp"]  # Twilio: mms when NumMedia > 0 (whatsapp stays whatsapp)
    received_at: datetime | None = None  # when the carrier says it arrived (UTC), if it says
    notes: tuple[str, ...] = ()  # what was changed to store it (see the module docs)


# -- Twilio signatures -----------------------------------------------------------------------------------------------


def _pairs(params: Params) -> list[tuple[str, str]]:
    return list(params.items()) if isinstance(params, Mapping) else list(params)


def twilio_signature(url: str, params: Params, auth_token: str) -> str:
    """The ``X-Twilio-Signature`` Twilio sends for a POST of ``params`` to ``url``.

    Pass repeated form fields as a sequence of pairs (a plain Mapping holds one value per name). As in Twilio's own
    SDKs, a name given twice with the same value is signed once.
    """
    data = url + "".join(name + value for name, value in sorted(set(_pairs(params))))
    # surrogatepass: a lone surrogate (which no real form carries) must not raise; it simply never verifies.
    digest = hmac.new(auth_token.encode(errors="surrogatepass"), data.encode(errors="surrogatepass"), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode("ascii")


def _split_port(hostport: str) -> tuple[str, str | None]:
    if hostport.startswith("["):  # an IPv6 literal: [::1]:8443
        end = hostport.find("]")
        port = hostport[end + 2 :] if end != -1 and hostport[end + 1 : end + 2] == ":" else ""
        return (hostport[: end + 1], port) if port.isdigit() else (hostport, None)
    host, colon, port = hostport.rpartition(":")
    return (host, port) if colon and port.isdigit() else (hostport, None)


def _url_variants(url: str) -> list[str]:
    """The URL as given, without its port, and with the scheme's default port when it has none (the forms Twilio's
    SDKs accept). Host case and credentials are kept: they are part of what Twilio signed."""
    match = _URL.fullmatch(url)
    if match is None:
        return [url]
    scheme, netloc, rest = match["scheme"], match["netloc"], match["rest"]
    userinfo, at, hostport = netloc.rpartition("@")
    host, port = _split_port(hostport)
    prefix = f"{scheme}://{userinfo}{at}"
    variants = [url, f"{prefix}{host}{rest}"]
    default = _DEFAULT_PORTS.get(scheme.lower())
    if port is None and default is not None:
        variants.append(f"{prefix}{host}:{default}{rest}")
    return list(dict.fromkeys(variants))


def verify_twilio(url: str, params: Params, auth_token: str, signature: str | None) -> bool:
    """Whether ``signature`` (the ``X-Twilio-Signature`` header) is Twilio's for this URL and these parameters.

    Compared in constant time; tried against the URL as given, without its port and with the default port. An empty
    auth token or signature never verifies.
    """
    if not auth_token or not signature:
        return False
    given = signature.strip().encode(errors="surrogatepass")
    pairs = _pairs(params)
    return any(
        hmac.compare_digest(twilio_signature(variant, pairs, auth_token).encode(), given)
        for variant in _url_variants(url)
    )


# -- the URL the carrier called --------------------------------------------------------------------------------------


def _first(value: str | None) -> str | None:
    """The first entry of a comma list (the one the outermost proxy wrote), or None when blank."""
    head = (value or "").split(",")[0].strip()
    return head or None


def _forwarded(value: str) -> dict[str, str]:
    """The parameters of the first element of an RFC 7239 ``Forwarded`` header, names lower-cased."""
    found: dict[str, str] = {}
    pos = 0
    while pos < len(value):
        match = _FORWARDED_PAIR.match(value, pos)
        if match is None:
            break
        name, raw, separator = match.groups()
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        found.setdefault(name.lower(), raw)
        pos = match.end()
        if separator == ",":
            break
    return found


def public_url(scheme: str, host: str, path: str, query: str, headers: Mapping[str, str], trust_proxy: bool) -> str:
    """The URL the carrier called, to check its signature against.

    ``host`` is the request's Host (with any port); ``path`` and ``query`` are raw, as received (percent-encoding
    kept). When ``trust_proxy``, the reverse proxy's headers say what the carrier saw: RFC 7239 ``Forwarded``
    (``proto=``, ``host=``) first, then ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` (first of a list), and
    ``X-Forwarded-Port`` replacing the port (left out when it is the scheme's default). Otherwise the request's own.
    Header names are matched in any case.
    """
    if trust_proxy:
        lowered = {name.lower(): value for name, value in headers.items()}
        forwarded = _forwarded(lowered.get("forwarded", ""))
        scheme = (forwarded.get("proto") or _first(lowered.get("x-forwarded-proto")) or scheme).lower()
        host = forwarded.get("host") or _first(lowered.get("x-forwarded-host")) or host
        port = _first(lowered.get("x-forwarded-port"))
        if port is not None and port.isdigit():
            bare, _ = _split_port(host)
            host = bare if _DEFAULT_PORTS.get(scheme) == port else f"{bare}:{port}"
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


# -- Twilio form -----------------------------------------------------------------------------------------------------


def _number(raw: str | None, field: str, default_region: str | None = None) -> tuple[str, bool]:
    """(E.164, whether it carried the ``whatsapp:`` prefix)."""
    if raw is None or not raw.strip():
        raise WebhookError(field, "is required")
    whatsapp = raw.strip().lower().startswith(_WHATSAPP)
    if whatsapp:
        raw = raw.strip()[len(_WHATSAPP) :]
    if raw[:1] == " " and raw.strip().isdigit():
        raw = "+" + raw.strip()  # a "+" sent unencoded arrives as a space (DESIGN.md, known traps)
    try:
        return parse_e164(raw, default_region), whatsapp
    except InvalidNumber as exc:
        raise WebhookError(field, exc.reason) from exc


def storable_id(raw: str) -> str:
    """A carrier's id as stored: itself, or ``sha256:<hex>`` of it when it cannot be a stored key."""
    carrier_id = raw.strip()
    if len(carrier_id) <= MAX_CARRIER_ID_LENGTH and text_problem(carrier_id) is None:
        return carrier_id
    return "sha256:" + hashlib.sha256(carrier_id.encode("utf-8", "surrogatepass")).hexdigest()


def _text(raw: str, field: str) -> str:
    if len(raw) > MAX_TEXT_LENGTH:
        raise WebhookError(field, f"is longer than {MAX_TEXT_LENGTH:,} characters ({len(raw):,})", status=413)
    return raw


def _media_url(raw: str, field: str) -> str:
    url = raw.strip()
    problem = text_problem(url) or (
        f"is longer than {MAX_URL_LENGTH} characters" if len(url) > MAX_URL_LENGTH else None
    )
    if problem is not None:
        raise WebhookError(field, problem)
    return url


def _twilio_media(params: Mapping[str, str]) -> tuple[str, ...]:
    raw = params.get("NumMedia", "0").strip() or "0"
    # isdigit() also says yes to "²" and "١", which int() reads or refuses in its own ways: ASCII digits only.
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_MEDIA:
        raise WebhookError("NumMedia", f'"{raw[:20]}" is not a whole number from 0 to {MAX_MEDIA}')
    count = int(raw)
    media: list[str] = []
    for i in range(count):
        url = params.get(f"MediaUrl{i}", "").strip()
        if not url:
            raise WebhookError(f"MediaUrl{i}", f"is required when NumMedia is {count}")
        media.append(_media_url(url, f"MediaUrl{i}"))
    return tuple(media)


def parse_twilio(params: Mapping[str, str]) -> InboundWebhook:
    """The message in a Twilio inbound-message webhook. Raises WebhookError naming the parameter at fault."""
    sender, from_whatsapp = _number(params.get("From"), "From")
    to, to_whatsapp = _number(params.get("To"), "To")
    carrier_id = next((params[k].strip() for k in ("MessageSid", "SmsMessageSid", "SmsSid") if params.get(k)), "")
    if not carrier_id:
        raise WebhookError("MessageSid", "is required")
    media = _twilio_media(params)
    text = _text(params.get("Body", ""), "Body")
    if not text.strip() and not media:
        raise WebhookError("Body", "is empty and the message has no media")
    channel: Literal["sms", "mms", "whatsapp"] = "mms" if media else "sms"
    if from_whatsapp or to_whatsapp:
        channel = "whatsapp"
    return InboundWebhook(sender, to, text, storable_id(carrier_id), media, channel)


# -- generic JSON form -----------------------------------------------------------------------------------------------


def _received_at(raw: Any) -> tuple[datetime | None, tuple[str, ...]]:
    """When the carrier says the message arrived, in UTC; and a note when that date was set aside."""
    if raw is None:
        return None, ()
    example = "as in 2024-06-03T09:00:00Z"
    if not isinstance(raw, str):
        raise WebhookError("received_at", f"must be an ISO 8601 date and time, {example}")
    shown = raw[:40].encode("ascii", "backslashreplace").decode()  # quoted back: short, and encodable
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise WebhookError("received_at", f'"{shown}" is not an ISO 8601 date and time, {example}') from exc
    if value.tzinfo is None or value.utcoffset() is None:
        raise WebhookError("received_at", f'"{shown}" must include a time zone offset, {example}')
    try:
        return instant(value), ()
    except ValueError as exc:  # the message itself is good: keep it, at the time Parley received it
        return None, (f'received_at "{shown}" was set aside: it {exc}',)


def parse_generic(payload: Any, *, default_region: str | None = None) -> InboundWebhook:
    """The message in a generic JSON webhook (the form in this module's docstring), already decoded from JSON.

    ``default_region`` (the PBX country) reads numbers a gateway sends in national form. Raises WebhookError
    naming the field at fault.
    """
    if not isinstance(payload, Mapping):
        raise WebhookError("body", "must be a JSON object")
    numbers: dict[str, str] = {}
    for field in ("from", "to"):
        raw = payload.get(field)
        if raw is not None and not isinstance(raw, str):
            raise WebhookError(field, "must be a string")
        numbers[field], _ = _number(raw, field, default_region)
    carrier_id = payload.get("id")
    if isinstance(carrier_id, int) and not isinstance(carrier_id, bool):
        carrier_id = str(carrier_id)
    if not isinstance(carrier_id, str) or not carrier_id.strip():
        raise WebhookError("id", "is required: the sender's id for the message")
    media = payload.get("media", [])
    if not isinstance(media, list) or not all(isinstance(url, str) and url.strip() for url in media):
        raise WebhookError("media", "must be a list of URLs")
    if len(media) > MAX_MEDIA:
        raise WebhookError("media", f"has {len(media)} URLs; at most {MAX_MEDIA}")
    text = payload.get("text", "")
    if not isinstance(text, str):
        raise WebhookError("text", "must be a string")
    text = _text(text, "text")
    if not text.strip() and not media:
        raise WebhookError("text", "is empty and the message has no media")
    received_at, notes = _received_at(payload.get("received_at"))
    urls = tuple(_media_url(url, f"media[{i}]") for i, url in enumerate(media))
    return InboundWebhook(
        numbers["from"], numbers["to"], text, storable_id(carrier_id), urls, "sms", received_at, notes
    )


def generic_signature(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the raw body, keyed with the shared secret; sent as ``X-Parley-Signature: sha256=<hex>``."""
    return hmac.new(secret.encode(errors="surrogatepass"), body, hashlib.sha256).hexdigest()


def verify_generic(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` (the ``X-Parley-Signature`` value) signs ``body`` with ``secret``; constant-time.

    An empty secret or a missing header never verifies.
    """
    if not secret or not header:
        return False
    scheme, _, value = header.strip().partition("=")
    if scheme.strip().lower() != "sha256":
        return False
    given = value.strip().lower().encode(errors="surrogatepass")
    return hmac.compare_digest(given, generic_signature(secret, body).encode())
