"""What each kind of transport needs in provisioning (`[[transports]]`), read into its stored config. Pure.

The role says where a transport stands in the outbound order (curl → GSM → carrier); the kind says which
channel speaks to it. HTTP carriers (Twilio, Telnyx) are always ``role = "carrier"``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

TRANSPORT_ROLES = ("curl", "gsm", "carrier", "whatsapp")
TRANSPORT_KINDS = ("curl", "smpp", "twilio", "telnyx", "whatsapp")
HTTP_CARRIERS = ("twilio", "telnyx")
DEFAULT_API_BASE = {
    "twilio": "https://api.twilio.com",
    "telnyx": "https://api.telnyx.com",
    "whatsapp": "https://graph.facebook.com/v21.0",
}
# Fields that hold secrets: never in an answer or a log (services/admin_transports.py, transport_secrets.py).
DEFAULT_WHATSAPP_RATE = 80  # messages per second: Meta's default throughput for a business number
SECRET_FIELDS = ("password", "auth_token", "api_key", "access_token", "app_secret", "verify_token")
LINK_POLICIES = ("allow", "warn", "refuse")  # links in SMS (issue 14 §4, core/links.py)
NO_RECEIPTS = ("curl", "smpp")  # kinds that may give no delivery receipts: `assume_delivered` (issue 14 §5)


class Reader(Protocol):
    """The part of `parley.core.provisioning.EntryReader` used here."""

    table: dict[str, Any]

    def problem(self, key: str, message: str) -> None: ...

    def str_(self, key: str, *, required: bool = False, default: str | None = None) -> str | None: ...

    def int_(self, key: str, default: int, *, minimum: int = 0) -> int: ...

    def number(self, key: str, *, region: str | None, required: bool = False) -> str | None: ...

    def bool_(self, key: str, default: bool) -> bool: ...

    def choice(self, key: str, options: tuple[str, ...], default: str | None = None) -> str: ...


def read_kind_config(kind: str, role: str, r: Reader, *, region: str | None = None) -> dict[str, Any]:
    """The stored config of one transport of ``kind``; problems are recorded on ``r``."""
    if kind in HTTP_CARRIERS and role != "carrier":
        r.problem("role", f'a {kind} transport is a carrier: role = "carrier"')
    if (kind == "whatsapp") != (role == "whatsapp"):
        r.problem("role", 'a WhatsApp transport has role = "whatsapp" and kind = "whatsapp", both')
    if kind == "whatsapp":
        return {
            "number": r.number("number", region=region, required=True),  # the company number it serves
            "phone_number_id": _digits(r, "phone_number_id"),
            "waba_id": _digits(r, "waba_id"),
            "access_token": r.str_("access_token", required=True),
            "app_secret": r.str_("app_secret", required=True),
            "verify_token": r.str_("verify_token", required=True),
            "api_base": _api_base(r, kind),
            # Messages per second this number may send (Meta's throughput; campaigns are paced to it).
            "rate": r.int_("rate", DEFAULT_WHATSAPP_RATE, minimum=1),
        }
    if kind == "curl":
        return {"command": r.str_("command", required=True)}
    if kind == "twilio":
        sid = r.str_("account_sid", required=True) or ""
        if sid and not (sid.startswith("AC") and len(sid) == 34 and sid[2:].isalnum()):
            r.problem("account_sid", "must be a Twilio account SID: AC followed by 32 letters and digits")
        return {
            "account_sid": sid,
            "auth_token": r.str_("auth_token", required=True),
            "api_base": _api_base(r, kind),
        }
    if kind == "telnyx":
        public_key = r.str_("public_key", required=True) or ""
        if public_key and not _is_ed25519_key(public_key):
            r.problem("public_key", "must be the base64 of a 32-byte Ed25519 public key, as Telnyx's portal shows it")
        return {
            "api_key": r.str_("api_key", required=True),
            "public_key": public_key,
            "messaging_profile_id": r.str_("messaging_profile_id"),
            "api_base": _api_base(r, kind),
        }
    return {
        "host": r.str_("host", required=True),
        "port": r.int_("port", 2775, minimum=1),
        "system_id": r.str_("system_id", required=True),
        "password": r.str_("password", default=""),
        "system_type": r.str_("system_type", default=""),
        "window": r.int_("window", 32, minimum=1),
    }


def read_sms_options(kind: str, r: Reader) -> dict[str, Any]:
    """What an SMS transport does with links (``links``) and whether handing a message over counts as delivered
    (``assume_delivered``, for transports that give no receipts). Only values other than the defaults are kept."""
    options: dict[str, Any] = {}
    if kind == "whatsapp":
        for key in ("links", "assume_delivered"):
            if key in r.table:
                r.problem(key, "is for SMS transports, not WhatsApp")
        return options
    links = r.choice("links", LINK_POLICIES, default="allow")
    if links != "allow":
        options["links"] = links
    if r.bool_("assume_delivered", False):
        if kind not in NO_RECEIPTS:
            r.problem("assume_delivered", f"a {kind} account reports deliveries itself; only curl or SMPP may assume")
        else:
            options["assume_delivered"] = True
    return options


def _digits(r: Reader, key: str) -> str:
    value = r.str_(key, required=True) or ""
    if value and not value.isdigit():
        r.problem(key, "must be the numeric id Meta's WhatsApp Manager shows")
    return value


def _api_base(r: Reader, kind: str) -> str:
    value = (r.str_("api_base") or DEFAULT_API_BASE[kind]).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        r.problem("api_base", f'"{value}" is not an http(s) URL')
    return value


def _is_ed25519_key(value: str) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def whatsapp_problems(
    numbers: Sequence[tuple[str, bool]], transports: Sequence[tuple[str, dict[str, Any]]]
) -> list[str]:
    """`whatsapp = true` on a number and a whatsapp transport serving it go together (issue 12 §1).

    ``numbers``: (number, whatsapp) of each `[[numbers]]` entry; ``transports``: (kind, config) of each transport.
    """
    served = {config.get("number"): i for i, (kind, config) in enumerate(transports) if kind == "whatsapp"}
    with_whatsapp = {number for number, whatsapp in numbers if whatsapp}
    problems = [
        f'numbers[{i}].whatsapp: no [[transports]] with kind = "whatsapp" serves {number}'
        for i, (number, whatsapp) in enumerate(numbers)
        if whatsapp and number not in served
    ]
    problems += [
        f"transports[{i}].number: {number} is not a [[numbers]] entry with whatsapp = true"
        for number, i in served.items()
        if number and number not in with_whatsapp
    ]
    return problems
