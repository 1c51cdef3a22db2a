"""Reading what Meta's WhatsApp Cloud API webhooks say: pure functions, no I/O.

What this module relies on (Meta's "Webhooks" and "Messages webhook reference", the wire-formats notes):

- **Handshake**: ``GET {callback}?hub.mode=subscribe&hub.verify_token=<ours>&hub.challenge=<random>``: answer 200 with
  the raw challenge when the mode is subscribe and the token matches, else 403.
- **Signature**: ``X-Hub-Signature-256: sha256=<hex>``, HMAC-SHA256 keyed with the App Secret over the raw body bytes
  (before any JSON parsing: re-serialising would change the bytes).
- **Envelope**: ``{"object": "whatsapp_business_account", "entry": [{"id": <WABA>, "changes": [{"field": "messages",
  "value": {"metadata": {"phone_number_id"}, "contacts": [...], "messages": [...], "statuses": [...],
  "errors": [...]}}]}]}``. One delivery can carry several entries, changes, messages and statuses; each is routed by
  ``metadata.phone_number_id`` (never the display number).
- ``timestamp`` is Unix seconds as a string; the 24-hour customer service window counts from the inbound one, so it
  is kept exactly (no "now" substituted).
- A contact may have no phone number: ``from_user_id`` (a business-scoped user id) replaces ``from``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from parley.channels.base import Inbound, Receipt, ReceiptState

SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_ID_LENGTH = 100  # the carrier_id columns
MAX_TEXT = 65536
MEDIA_TYPES = frozenset({"image", "audio", "voice", "video", "document", "sticker"})
_STATES: dict[str, ReceiptState] = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}


class WhatsAppWebhookError(ValueError):
    """A webhook body that is not a WhatsApp notification we can read; ``field`` names the part at fault (a 400)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class WebhookProblem:
    """A top-level ``value.errors[]`` entry: Meta telling the business something went wrong (not about one message).

    Returned rather than dropped, so the caller can log it; it changes no message.
    """

    code: str
    title: str


@dataclass(frozen=True)
class WebhookItem:
    """One thing a notification said, for the business number ``phone_number_id``."""

    phone_number_id: str
    event: Inbound | Receipt | WebhookProblem


def verify_signature(app_secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` (``sha256=<hex>``) is Meta's HMAC-SHA256 of ``body`` under the App Secret. Never raises."""
    if not app_secret or not isinstance(header, str) or not isinstance(body, bytes | bytearray):
        return False
    scheme, _, given = header.strip().partition("=")
    if scheme.lower() != "sha256" or len(given) != 64 or not given.isascii():
        return False
    expected = hmac.new(app_secret.encode("utf-8", "surrogatepass"), bytes(body), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.lower())


def verify_handshake(params: Mapping[str, str], verify_token: str) -> str | None:
    """The ``hub.challenge`` to echo when Meta's subscription check is genuine, else None (answer 403)."""
    mode, token, challenge = (params.get(k) for k in ("hub.mode", "hub.verify_token", "hub.challenge"))
    if mode != "subscribe" or not verify_token or not isinstance(token, str) or not isinstance(challenge, str):
        return None
    if not hmac.compare_digest(token.encode("utf-8", "surrogatepass"), verify_token.encode("utf-8", "surrogatepass")):
        return None
    return challenge


# --- reading the envelope ------------------------------------------------------------------------------------------


def _dict(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise WhatsAppWebhookError(field, "must be a JSON object")
    return value


def _list(value: object, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise WhatsAppWebhookError(field, "must be a list")
    return value


def _clean(value: str, limit: int) -> str:
    """Text as a column can hold it: no NUL, no lone surrogate, at most ``limit`` characters."""
    text = value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return text[:limit]


def _text(value: object, field: str, *, limit: int = MAX_TEXT) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise WhatsAppWebhookError(field, "must be a string")
    return _clean(value, limit)


def _word(value: object, limit: int = 16) -> str:
    """A short printable token (a code, a status): a number is taken as its digits."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**limit:
        value = str(value)
    if not isinstance(value, str):
        return ""
    return "".join(c for c in value if c.isascii() and c.isprintable())[:limit]


def carrier_key(raw: str) -> str:
    """A wamid as stored; one that cannot be a key becomes ``sha256:<hex>`` of it, the same on send and in statuses."""
    value = raw.strip()
    if 0 < len(value) <= MAX_ID_LENGTH and value.isascii() and value.isprintable():
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _id(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise WhatsAppWebhookError(field, "must be a non-empty string")
    return carrier_key(value)


def _instant(value: object, field: str) -> datetime:
    """A Unix-seconds string (or number) as an exact UTC datetime; the window is counted from it."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.isascii() or not value.strip().isdigit() or len(value.strip()) > 11:
        raise WhatsAppWebhookError(field, "must be Unix seconds")
    try:
        return datetime.fromtimestamp(int(value.strip()), UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise WhatsAppWebhookError(field, "is out of range") from exc


def parse_webhook(payload: object) -> list[WebhookItem]:
    """Everything a notification (decoded JSON) says, in order. Raises `WhatsAppWebhookError` naming the field.

    Group messages (``group_id``) are skipped: Parley's conversations are one customer each. Changes of other
    fields than ``messages`` (template status updates, account alerts) are skipped too.
    """
    body = _dict(payload, "body")
    items: list[WebhookItem] = []
    for e, entry in enumerate(_list(body.get("entry"), "entry")):
        where = f"entry[{e}]"
        for c, change in enumerate(_list(_dict(entry, where).get("changes"), f"{where}.changes")):
            at = f"{where}.changes[{c}]"
            change = _dict(change, at)
            if change.get("field", "messages") != "messages":
                continue
            items += _value(_dict(change.get("value"), f"{at}.value"), f"{at}.value")
    return items


def _value(value: Mapping[str, Any], at: str) -> list[WebhookItem]:
    metadata = _dict(value.get("metadata"), f"{at}.metadata")
    number_id = _id(metadata.get("phone_number_id"), f"{at}.metadata.phone_number_id")
    to = _display(metadata.get("display_phone_number"))
    profiles: dict[str, Mapping[str, Any]] = {}
    for i, contact in enumerate(_list(value.get("contacts"), f"{at}.contacts")):
        contact = _dict(contact, f"{at}.contacts[{i}]")
        for key in ("wa_id", "user_id"):
            if isinstance(contact.get(key), str):
                profiles[contact[key]] = contact
    items: list[WebhookItem] = []
    for i, message in enumerate(_list(value.get("messages"), f"{at}.messages")):
        inbound = _message(_dict(message, f"{at}.messages[{i}]"), f"{at}.messages[{i}]", to, profiles)
        if inbound is not None:
            items.append(WebhookItem(number_id, inbound))
    for i, status in enumerate(_list(value.get("statuses"), f"{at}.statuses")):
        items.append(WebhookItem(number_id, _status(_dict(status, f"{at}.statuses[{i}]"), f"{at}.statuses[{i}]")))
    for i, error in enumerate(_list(value.get("errors"), f"{at}.errors")):
        error = _dict(error, f"{at}.errors[{i}]")
        title = error.get("title") if isinstance(error.get("title"), str) else error.get("message")
        items.append(WebhookItem(number_id, WebhookProblem(_word(error.get("code")), _text(title, "", limit=300))))
    return items


def _display(value: object) -> str:
    """The business number as E.164 when Meta shows it ("+250 788 123 200", "15551230001"), else ""."""
    digits = "".join(c for c in value if c.isascii() and c.isdigit()) if isinstance(value, str) else ""
    return "+" + digits if 7 <= len(digits) <= 15 else ""


def _message(message: Mapping[str, Any], at: str, to: str, profiles: Mapping[str, Mapping[str, Any]]) -> Inbound | None:
    if message.get("group_id") is not None:
        return None
    wamid = _id(message.get("id"), f"{at}.id")
    kind = _word(message.get("type"), 32) if isinstance(message.get("type"), str) else ""
    if not kind:
        raise WhatsAppWebhookError(f"{at}.type", "must be a non-empty string")
    extra: dict[str, str] = {"type": kind}
    sender_raw = message.get("from")
    if sender_raw is not None:
        digits = _text(sender_raw, f"{at}.from", limit=32)
        if not (digits.isascii() and digits.isdigit() and 6 <= len(digits) <= 15):
            raise WhatsAppWebhookError(f"{at}.from", "must be a WhatsApp id (the number's digits)")
        sender, key = "+" + digits, digits
    else:
        key = _id(message.get("from_user_id"), f"{at}.from_user_id")
        sender = ""
        extra["external_id"] = key
    profile = profiles.get(key, {}).get("profile")
    if isinstance(profile, dict):
        if isinstance(profile.get("name"), str) and profile["name"].strip():
            extra["profile_name"] = _clean(profile["name"].strip(), 256)
        if not sender and isinstance(profile.get("username"), str) and profile["username"].strip():
            extra["username"] = _clean(profile["username"].strip(), 256)
    context = message.get("context")
    if isinstance(context, dict) and isinstance(context.get("id"), str) and context["id"].strip():
        extra["reply_to"] = _id(context["id"], f"{at}.context.id")
    received_at = _instant(message.get("timestamp"), f"{at}.timestamp")
    text, media = _content(message, kind, at, extra)
    return Inbound(sender, to, text, carrier_id=wamid, received_at=received_at, extra=extra, media=media,
                   channel="whatsapp")  # fmt: skip


def _content(message: Mapping[str, Any], kind: str, at: str, extra: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    """The text and media ids of one message by its type; ``extra`` gets what has no column."""
    if kind == "text":
        return _text(_dict(message.get("text"), f"{at}.text").get("body"), f"{at}.text.body"), ()
    if kind in MEDIA_TYPES:
        part = _dict(message.get(kind), f"{at}.{kind}")
        media_id = _id(part.get("id"), f"{at}.{kind}.id")
        if isinstance(part.get("filename"), str):
            extra["filename"] = _clean(part["filename"], 255)
        return _text(part.get("caption"), f"{at}.{kind}.caption"), (media_id,)
    if kind == "location":
        return _location(_dict(message.get("location"), f"{at}.location"), f"{at}.location"), ()
    if kind == "contacts":
        return _contacts(_list(message.get("contacts"), f"{at}.contacts"), extra), ()
    if kind == "button":
        button = _dict(message.get("button"), f"{at}.button")
        if isinstance(button.get("payload"), str):
            extra["reply_id"] = _clean(button["payload"], 256)
        return _text(button.get("text"), f"{at}.button.text"), ()
    if kind == "interactive":
        return _interactive(_dict(message.get("interactive"), f"{at}.interactive"), f"{at}.interactive", extra), ()
    if kind == "reaction":
        reaction = _dict(message.get("reaction"), f"{at}.reaction")
        target = _id(reaction.get("message_id"), f"{at}.reaction.message_id")
        emoji = _text(reaction.get("emoji"), f"{at}.reaction.emoji", limit=32)
        extra["reaction_to"] = target
        return (f"reacted {emoji} to {target}" if emoji else f"removed a reaction to {target}"), ()
    extra["type"] = "unsupported"
    extra["raw_type"] = kind
    return "", ()


def _coordinate(value: object, field: str, bound: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise WhatsAppWebhookError(field, "must be a number")
    try:
        number = float(value)
    except ValueError as exc:
        raise WhatsAppWebhookError(field, "must be a number") from exc
    if not -bound <= number <= bound:  # also refuses NaN
        raise WhatsAppWebhookError(field, f"must be within ±{bound:g}")
    return number


def _location(location: Mapping[str, Any], at: str) -> str:
    lat = _coordinate(location.get("latitude"), f"{at}.latitude", 90)
    lon = _coordinate(location.get("longitude"), f"{at}.longitude", 180)
    lines = [_text(location.get(k), f"{at}.{k}", limit=1024) for k in ("name", "address")]
    lines.append(f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}")
    return "\n".join(line for line in lines if line)


def _contacts(cards: list[Any], extra: dict[str, str]) -> str:
    """A readable line per shared contact; the cards themselves kept as JSON in ``extra["vcard"]``."""
    lines = []
    for card in cards[:20]:
        if not isinstance(card, dict):
            continue
        name = card.get("name")
        formatted = name.get("formatted_name") if isinstance(name, dict) else None
        phones = card.get("phones")
        phones = phones if isinstance(phones, list) else []
        numbers = [p["phone"] for p in phones if isinstance(p, dict) and isinstance(p.get("phone"), str)]
        label = formatted if isinstance(formatted, str) else ""
        line = f"{label}: {', '.join(numbers[:3])}" if label and numbers else label or ", ".join(numbers[:3])
        lines.append(_clean(line, 512))
    extra["vcard"] = _clean(json.dumps(cards[:20], ensure_ascii=False, default=str), MAX_TEXT)
    return "shared contacts: " + "; ".join(line for line in lines if line) if lines else "shared contacts"


def _interactive(part: Mapping[str, Any], at: str, extra: dict[str, str]) -> str:
    kind = _word(part.get("type"), 32)
    if kind in ("button_reply", "list_reply"):
        reply = _dict(part.get(kind), f"{at}.{kind}")
        if isinstance(reply.get("id"), str):
            extra["reply_id"] = _clean(reply["id"], 256)
        return _text(reply.get("title"), f"{at}.{kind}.title")
    if kind == "nfm_reply":
        reply = _dict(part.get("nfm_reply"), f"{at}.nfm_reply")
        if isinstance(reply.get("response_json"), str):
            extra["response_json"] = _clean(reply["response_json"], MAX_TEXT)
        return _text(reply.get("body"), f"{at}.nfm_reply.body")
    extra["raw_type"] = f"interactive.{kind}"
    return ""


def _status(status: Mapping[str, Any], at: str) -> Receipt:
    wamid = _id(status.get("id"), f"{at}.id")
    raw = _word(status.get("status"))
    if not raw:
        raise WhatsAppWebhookError(f"{at}.status", "must be a non-empty string")
    errors = _list(status.get("errors"), f"{at}.errors")
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    done_at = _instant(status.get("timestamp"), f"{at}.timestamp") if status.get("timestamp") is not None else None
    data = first.get("error_data")
    words = [first.get("title"), first.get("message"), data.get("details") if isinstance(data, dict) else None]
    said = dict.fromkeys(_clean(w.strip(), 200) for w in words if isinstance(w, str) and w.strip())
    return Receipt(wamid, _STATES.get(raw, "unknown"), raw, _word(first.get("code")), done_at, "; ".join(said))
