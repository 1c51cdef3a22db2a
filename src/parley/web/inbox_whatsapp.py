"""WhatsApp in the inbox (issue 12 §4–§7): the composer's channel choice, the 24-hour window and its countdown, the
template picker with its variables and a preview rendered by the server, and how the timeline shows a message's
channel, WhatsApp statuses and a fallback route.

The window is decided here, with the server's clock (`InboxView.now`, shiftable in tests): the page gets the seconds
left, and console.js only counts them down with a monotonic timer — never the browser's own date. Templates come
from the synced list (`WhatsAppTemplates`, `TemplateCatalog` here); the picker's preview is what ``resolve`` renders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from fastapi import Query, Request
from fastapi.responses import Response

from parley.app_state import ParleyDep
from parley.core.whatsapp_rules import MAX_TEXT, TemplateSpec, TemplateSpecError
from parley.services.directory import Config, User
from parley.services.errors import ServiceError
from parley.web.page_router import page_router
from parley.web.security import ConsoleRefused, ConsoleSession
from parley.web.templating import local_time, render

if TYPE_CHECKING:
    from parley.bootstrap import Parley

CHANNEL_NAMES = {"sms": "SMS", "mms": "MMS", "whatsapp": "WhatsApp"}
_TICKS = {"sent": "✓ sent", "delivered": "✓✓ delivered", "read": "✓✓ read"}  # WhatsApp's own marks


class TemplateCatalog(Protocol):
    """The synced WhatsApp templates (`services.whatsapp_templates.WhatsAppTemplates`)."""

    async def list_(self, user: User, number: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Templates of a number's account (name, language, category, status, components with ``variables``)."""
        ...

    async def preview(self, user: User, number: str, doc: object) -> str:
        """The text a template send would show; raises `ServiceError` (422) when it cannot go."""
        ...


@dataclass(frozen=True)
class WhatsAppComposer:
    """What the composer offers for a conversation whose company number is on WhatsApp."""

    channel: str  # preselected: "sms" or "whatsapp"
    sms_possible: bool  # False for a customer known only by a WhatsApp user id (no phone number)
    expires_at: datetime | None  # when the customer-service window closes (closed); None: never opened
    seconds_left: int  # 0 once closed

    @property
    def window_open(self) -> bool:
        return self.seconds_left > 0

    @property
    def templates_only(self) -> bool:
        """What the composer starts with: WhatsApp chosen and no window, so only a template can go."""
        return self.channel == "whatsapp" and not self.window_open


def composer_state(conversation: Mapping[str, Any], config: Config, now: datetime) -> WhatsAppComposer | None:
    """The composer's WhatsApp part, or None when the conversation's company number is not on WhatsApp. The channel
    preselected is the one a reply goes on by default (`conversation_support.reply_channel`): the customer's last."""
    if conversation["company_number"] not in config.whatsapp:
        return None
    sms_possible = str(conversation["external_number"] or "").startswith("+")
    channel = "whatsapp" if not sms_possible or conversation.get("last_channel") == "whatsapp" else "sms"
    expires = conversation.get("whatsapp_window_expires_at")
    left = int((expires - now).total_seconds()) if expires is not None else 0
    return WhatsAppComposer(channel, sms_possible, expires, max(left, 0))


def countdown(seconds: int) -> str:
    """Seconds left as the banner shows them: 23:41:12 (console.js counts down in the same shape)."""
    seconds = max(seconds, 0)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def status_label(channel: str, status: str) -> str:
    """A status as the timeline's badge says it: WhatsApp's ticks (✓ sent, ✓✓ delivered, ✓✓ read), else the word."""
    return _TICKS.get(status, status) if channel == "whatsapp" else status


def _step_time(value: object) -> str:
    if not isinstance(value, str):
        return "?"
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "?"
    return local_time(at, "%H:%M") if at.tzinfo else "?"


def describe_route(route: object, status: str) -> str:
    """A message's route (``messages.route``: [{channel, at, outcome, code?, detail?}]) as one line: "Tried WhatsApp
    at 10:02, failed with 131026 (Message undeliverable); sent by SMS at 10:02". Anything else: an empty line."""
    if not isinstance(route, Sequence) or isinstance(route, str):
        return ""
    steps = [s for s in route if isinstance(s, Mapping)]
    parts: list[str] = []
    for i, step in enumerate(steps):
        name = CHANNEL_NAMES.get(str(step.get("channel")), str(step.get("channel") or "?"))
        at, outcome = _step_time(step.get("at")), str(step.get("outcome") or "")
        code, detail = step.get("code"), step.get("detail")
        why = (f" {code}" if code else "") + (f" ({str(detail)[:160]})" if detail else "")
        if outcome == "failed":
            parts.append(f"tried {name} at {at}, failed with{why}" if why else f"tried {name} at {at}, failed")
        elif outcome == "not sent":
            parts.append(f"not sent by {name} at {at}" + (f" ({str(detail)[:160]})" if detail else ""))
        elif i == len(steps) - 1:  # the way it went last: its state is the message's
            parts.append(f"sent by {name} at {at}" if status in ("sent", "delivered", "read") else
                         f"by {name} since {at}: {status}")  # fmt: skip
        else:
            parts.append(f"{outcome or 'tried'} by {name} at {at}")
    line = "; ".join(parts)
    return line[:1].upper() + line[1:]


def template_key(name: str, language: str) -> str:
    """One template's value in the picker: its name and language (names are [a-z0-9_], so "|" cannot occur)."""
    return f"{name}|{language}"


def template_spec(key: str, variables: Sequence[str]) -> TemplateSpec:
    """The template the composer's picker posted; raises `ServiceError` (422, ``template``) naming what is wrong."""
    name, _, language = key.rpartition("|")
    try:
        return TemplateSpec.from_doc({"name": name, "language": language, "variables": list(variables)})
    except TemplateSpecError as exc:
        raise ServiceError(422, exc.reason, exc.field) from None


def variable_count(template: Mapping[str, Any]) -> int:
    """How many values the template's body takes (the synced components carry ``variables``)."""
    for component in template.get("components") or []:
        if isinstance(component, Mapping) and str(component.get("type", "")).upper() == "BODY":
            return int(component.get("variables") or 0)
    return 0


def helpers() -> dict[str, Any]:
    """What the composer's and the timeline's templates call."""
    return {
        "channel_names": CHANNEL_NAMES,
        "status_label": status_label,
        "describe_route": describe_route,
        "countdown": countdown,
        "whatsapp_max_text": MAX_TEXT,
    }


# The window's banner, and the template picker's fragments: the approved templates, one template's variables, and
# its preview.
router = page_router()


async def _conversation(parley: Parley, user: User, conversation_id: str) -> dict[str, Any]:
    try:
        return await parley.conversations.get(user, conversation_id)
    except ServiceError as exc:
        raise ConsoleRefused(exc.status, exc.reason) from None


async def _company_number(parley: Parley, user: User, conversation_id: str) -> str:
    return str((await _conversation(parley, user, conversation_id))["company_number"])


async def _approved(catalog: TemplateCatalog, user: User, number: str) -> list[dict[str, Any]]:
    try:
        return await catalog.list_(user, number, status="approved")
    except ServiceError:
        return []  # the number left WhatsApp, or the user may not converse: nothing to pick


@router.get("/inbox/{conversation_id}/window")
async def window(request: Request, session: ConsoleSession, conversation_id: str, parley: ParleyDep) -> Response:
    """The window's banner again (a new message may have opened it): console.js takes the composer's state
    from it. Nothing (204) for a number not on WhatsApp."""
    config = await parley.cache.config()
    conversation = await _conversation(parley, session.user, conversation_id)
    wa = composer_state(conversation, config, parley.inbox_view.now())
    if wa is None:
        return Response(status_code=204)
    return render(request, "inbox/_whatsapp_window.html", {"cid": conversation_id, "wa": wa, **helpers()})


@router.get("/inbox/{conversation_id}/templates")
async def picker(request: Request, session: ConsoleSession, conversation_id: str, parley: ParleyDep) -> Response:
    number = await _company_number(parley, session.user, conversation_id)
    found = await _approved(parley.whatsapp_templates, session.user, number)
    context = {"cid": conversation_id, "number": number, "templates": found, "template_key": template_key}
    return render(request, "inbox/_template_picker.html", context)


@router.get("/inbox/{conversation_id}/templates/fields")
async def fields(
    request: Request,
    session: ConsoleSession,
    conversation_id: str,
    parley: ParleyDep,
    template: Annotated[str, Query()] = "",
) -> Response:
    number = await _company_number(parley, session.user, conversation_id)
    found = await _approved(parley.whatsapp_templates, session.user, number)
    chosen = next((t for t in found if template_key(t["name"], t["language"]) == template), None)
    context = {"cid": conversation_id, "chosen": chosen, "count": variable_count(chosen) if chosen else 0}
    return render(request, "inbox/_template_fields.html", context)


@router.get("/inbox/{conversation_id}/templates/preview")
async def preview(
    request: Request,
    session: ConsoleSession,
    conversation_id: str,
    parley: ParleyDep,
    template: Annotated[str, Query()] = "",
    variables: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """The final text; a variable not filled in yet shows as its placeholder ({{1}})."""
    number = await _company_number(parley, session.user, conversation_id)
    name, _, language = template.rpartition("|")
    filled = [v if v.strip() else "{{" + str(i + 1) + "}}" for i, v in enumerate(variables or [])]
    text, error = "", ""
    if name:
        try:
            doc = {"name": name, "language": language, "variables": filled}
            text = await parley.whatsapp_templates.preview(session.user, number, doc)
        except ServiceError as exc:
            error = exc.reason
    return render(request, "inbox/_template_preview.html", {"text": text, "error": error})
