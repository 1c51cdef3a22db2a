"""WhatsApp's rules for what a business may send, and when. Pure.

- **The customer-service window**: free-form messages (text, media) only within 24 hours of the customer's last
  WhatsApp message, counted from the time Meta reports for that message. Outside it only an approved template goes.
- **A template send** names the template, its language, the body's variables in order and, for a template with a
  media header, the uploaded file to show; stored on the message as `TemplateSpec.to_doc()`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

WINDOW = timedelta(hours=24)
MAX_VARIABLE = 1024  # characters of one variable (Meta refuses longer body parameters)
MAX_VARIABLES = 100


def window_expires_at(last_inbound: datetime | None) -> datetime | None:
    """When the window a customer's last WhatsApp message opened closes; None when they never wrote on WhatsApp."""
    return last_inbound + WINDOW if last_inbound is not None else None


def window_open(last_inbound: datetime | None, now: datetime) -> bool:
    expires = window_expires_at(last_inbound)
    return expires is not None and now < expires


class TemplateSpecError(ValueError):
    """A template request that cannot be read; ``field`` names the part at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class TemplateSpec:
    """A template to send: which one, and what fills it."""

    name: str
    language: str
    variables: tuple[str, ...] = ()
    header_media: str | None = None  # an uploaded file's id (`POST /api/v2/media`)

    def to_doc(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "language": self.language,
            "variables": list(self.variables),
            "header_media": self.header_media,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any], field: str = "template") -> TemplateSpec:
        """Read a template request (the API's ``template`` object, a stored one); raise `TemplateSpecError`."""
        if not isinstance(doc, Mapping):
            raise TemplateSpecError(field, "must be an object with name and language")
        name, language = doc.get("name"), doc.get("language", "en_US")
        if not isinstance(name, str) or not name.strip() or len(name) > 512:
            raise TemplateSpecError(f"{field}.name", "must be the template's name (1 to 512 characters)")
        if not isinstance(language, str) or not 2 <= len(language.strip()) <= 16:
            raise TemplateSpecError(f"{field}.language", 'must be a language code such as "en_US"')
        variables = doc.get("variables") or []
        if not isinstance(variables, Sequence) or isinstance(variables, str) or len(variables) > MAX_VARIABLES:
            raise TemplateSpecError(f"{field}.variables", f"must be a list of at most {MAX_VARIABLES} texts")
        for i, value in enumerate(variables):
            if not isinstance(value, str) or not value.strip() or len(value) > MAX_VARIABLE:
                raise TemplateSpecError(f"{field}.variables[{i}]", f"must be a text of 1 to {MAX_VARIABLE} characters")
        header = doc.get("header_media")
        if header is not None and (not isinstance(header, str) or not header.strip() or len(header) > 64):
            raise TemplateSpecError(f"{field}.header_media", "must be an uploaded file's id")
        return cls(name.strip(), language.strip(), tuple(variables), header)


# --- media ------------------------------------------------------------------------------------------------------------

MAX_TEXT = 4096  # characters of a free-form WhatsApp text
MAX_CAPTION = 1024
_KINDS = {
    "image": frozenset({"image/jpeg", "image/png"}),
    "video": frozenset({"video/mp4", "video/3gpp"}),
    "audio": frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}),
}
MEDIA_LIMITS = {"image": 5 * 1024 * 1024, "video": 16 * 1024 * 1024, "audio": 16 * 1024 * 1024,
                "document": 100 * 1024 * 1024}  # fmt: skip


def media_kind(content_type: str) -> str:
    """The WhatsApp message type that carries a file of this type; what WhatsApp does not play goes as a document."""
    base = content_type.split(";", 1)[0].strip().lower()
    return next((kind for kind, types in _KINDS.items() if base in types), "document")


def media_problem(content_type: str, size: int) -> str | None:
    """Why a file cannot go on WhatsApp (over the size Meta takes for its kind), or None."""
    kind = media_kind(content_type)
    limit = MEDIA_LIMITS[kind]
    if size > limit:
        return f"a WhatsApp {kind} may have at most {limit // (1024 * 1024)} MB; this one has {size:,} bytes"
    return None
