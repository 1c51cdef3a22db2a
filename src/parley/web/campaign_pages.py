"""Campaign pages (seeds 001, 003): the list, a new campaign from a CSV or a saved list, and one campaign's progress.

Saved lists and the blocklist have their own modules; their routes are included here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from parley.app_state import ParleyDep
from parley.core.outbound import OutboundError
from parley.routes import adopt
from parley.services.campaign_whatsapp import template_choices, template_from_form
from parley.services.campaigns import STATUSES
from parley.services.errors import ServiceError
from parley.web import blocklist_pages, list_pages
from parley.web.page_router import page_router
from parley.web.security import CSRF_FIELD, ConsoleRefused, ConsoleSession
from parley.web.send_page import read_local_time
from parley.web.templating import field_errors, render, set_timezone

if TYPE_CHECKING:
    from parley.bootstrap import Parley
    from parley.services.directory import User

PAGE_SIZE = 25
RECIPIENTS_PAGE = 50
LIVE = ("running", "scheduled")  # statuses whose page keeps itself up to date


def progress(campaign: dict[str, Any]) -> int:
    """Percent of the recipients that are done with (sent, delivered, failed or skipped)."""
    counters: dict[str, int] = campaign["counters"]
    total = counters["total"]
    if total == 0:
        return 100 if campaign["status"] == "completed" else 0
    done = total - counters["pending"] - counters["queued"]
    return max(0, min(100, round(100 * done / total)))


def after_redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


router = page_router()


async def _zone(parley: Parley) -> str:
    timezone = (await parley.cache.config()).timezone
    set_timezone(timezone)
    return timezone


async def _page_of_campaigns(parley: Parley, user: User, page: int, status: str) -> dict[str, Any]:
    """A page of campaigns, only those with ``status`` when it is one (seed 003: filter by status)."""
    page = max(1, page)
    wanted = status if status in STATUSES else None
    items, more = await parley.campaigns.page(user, status=wanted, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    for item in items:
        item["progress"] = progress(item)
    live = any(item["status"] in LIVE for item in items)
    return {"campaigns": items, "page": page, "more": more, "live": live, "status": wanted or "",
            "statuses": STATUSES}  # fmt: skip


@router.get("/campaigns")
async def index(
    request: Request, session: ConsoleSession, parley: ParleyDep, page: int = 1, status: str = ""
) -> Response:
    await _zone(parley)
    return render(request, "campaigns/index.html", await _page_of_campaigns(parley, session.user, page, status))


@router.get("/campaigns/table")
async def table(
    request: Request, session: ConsoleSession, parley: ParleyDep, page: int = 1, status: str = ""
) -> Response:
    await _zone(parley)
    return render(request, "campaigns/_table.html", await _page_of_campaigns(parley, session.user, page, status))


async def _form_context(parley: Parley, user: User, values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    saved_lists = await parley.lists.list_(user)
    config = await parley.cache.config()
    senders = sorted(set(await parley.campaigns.sender_numbers()) | set(config.whatsapp))
    return {
        "values": values,
        "errors": errors,
        "timezone": await _zone(parley),
        "senders": [(n, n + (" (WhatsApp)" if n in config.whatsapp else "")) for n in senders],
        "whatsapp": bool(config.whatsapp),  # the channel and template controls, only where a number has it
        "templates": [("", "Choose a template")] + await template_choices(parley.db, config),
        "lists": [(str(item["id"]), f"{item['name']} ({item['entries']})") for item in saved_lists],
    }


@router.get("/campaigns/new")
async def new(request: Request, session: ConsoleSession, parley: ParleyDep, list_id: str = "") -> Response:
    values = {
        "sender_type": "number",
        "source": "list" if list_id else "file",
        "list_id": list_id,
        "channel": "sms",
    }
    return render(request, "campaigns/new.html", await _form_context(parley, session.user, values, {}))


@router.post("/campaigns")
async def create(request: Request, session: ConsoleSession, parley: ParleyDep) -> Response:
    campaigns = parley.campaigns
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}
    upload = form.get("file")
    file = upload if isinstance(upload, UploadFile) and upload.filename else None
    ctx = await _form_context(parley, session.user, values, {})
    errors = _source_errors(values, file)
    spec = _spec(values)
    try:
        if values.get("start_at", "").strip():
            spec["start_at"] = read_local_time(values["start_at"], ctx["timezone"])
    except OutboundError as exc:
        errors["start_at"] = exc.reason
    if errors:
        return render(request, "campaigns/new.html", {**ctx, "errors": errors}, status=422)
    try:
        created = await campaigns.create(session.user, spec)
    except ServiceError as exc:
        return _form_again(request, ctx, exc, values)
    if file is not None:
        try:
            await campaigns.upload(session.user, created["id"], file.file)
        except ServiceError as exc:
            await campaigns.discard(session.user, created["id"])  # nothing half-saved
            return _form_again(request, ctx, exc, values)
    return after_redirect(f"/campaigns/{created['id']}")


async def _detail_context(parley: Parley, user: User, campaign_id: str, after: str | None) -> dict[str, Any]:
    campaigns = parley.campaigns
    await _zone(parley)
    try:
        campaign = await campaigns.get(user, campaign_id)
        rows = await campaigns.recipients(user, campaign_id, after=after, limit=RECIPIENTS_PAGE + 1)
        problems = await campaigns.problems(user, campaign_id)
    except ServiceError as exc:
        raise ConsoleRefused(exc.status, exc.reason) from None
    campaign["progress"] = progress(campaign)
    shown = rows[:RECIPIENTS_PAGE]
    return {
        "campaign": campaign,
        "live": campaign["status"] in LIVE,
        "recipients": shown,
        "after": after,
        "next": shown[-1].number if len(rows) > RECIPIENTS_PAGE else None,
        "problems": problems,
    }


@router.get("/campaigns/{campaign_id}")
async def detail(
    request: Request, session: ConsoleSession, campaign_id: str, parley: ParleyDep, after: str | None = None
) -> Response:
    return render(request, "campaigns/detail.html", await _detail_context(parley, session.user, campaign_id, after))


@router.get("/campaigns/{campaign_id}/progress")
async def live_progress(request: Request, session: ConsoleSession, campaign_id: str, parley: ParleyDep) -> Response:
    ctx = await _detail_context(parley, session.user, campaign_id, None)
    return render(request, "campaigns/_progress.html", ctx)


@router.get("/campaigns/{campaign_id}/recipients")
async def recipients(
    request: Request, session: ConsoleSession, campaign_id: str, parley: ParleyDep, after: str | None = None
) -> Response:
    ctx = await _detail_context(parley, session.user, campaign_id, after)
    return render(request, "campaigns/_recipients.html", ctx)


@router.post("/campaigns/{campaign_id}/recipients")
async def add_recipients(request: Request, session: ConsoleSession, campaign_id: str, parley: ParleyDep) -> Response:
    upload = (await request.form()).get("file")
    ctx = await _detail_context(parley, session.user, campaign_id, None)
    if not isinstance(upload, UploadFile) or not upload.filename:
        ctx["errors"] = {"file": "Choose a CSV file"}
        return render(request, "campaigns/detail.html", ctx, status=422)
    try:
        await parley.campaigns.upload(session.user, campaign_id, upload.file)
    except ServiceError as exc:
        if exc.status != 422:
            raise ConsoleRefused(exc.status, exc.reason) from None
        ctx["errors"] = {"file": exc.reason}
        return render(request, "campaigns/detail.html", ctx, status=422)
    return after_redirect(f"/campaigns/{campaign_id}")


@router.post("/campaigns/{campaign_id}/{action}")
async def act(request: Request, session: ConsoleSession, campaign_id: str, action: str, parley: ParleyDep) -> Response:
    campaigns = parley.campaigns
    try:
        if action in ("start", "restart"):
            await campaigns.start(session.user, campaign_id)
        elif action == "stop":
            await campaigns.stop(session.user, campaign_id)
        elif action == "discard":
            await campaigns.discard(session.user, campaign_id)
            return after_redirect("/campaigns")
        else:
            raise ConsoleRefused(404, f'No action "{action}"')
    except ServiceError as exc:
        raise ConsoleRefused(exc.status, exc.reason) from None
    return after_redirect(f"/campaigns/{campaign_id}")


adopt(router, list_pages.router, blocklist_pages.router)


def _source_errors(values: dict[str, str], file: UploadFile | None) -> dict[str, str]:
    """The recipients' source, checked before anything is saved."""
    if values.get("source") == "list":
        return {} if values.get("list_id") else {"list_id": "Choose a saved list"}
    return {} if file is not None else {"file": "Choose a CSV file (or use a saved list)"}


def _spec(values: dict[str, str]) -> dict[str, Any]:
    sender_type = values.get("sender_type") or "number"
    spec: dict[str, Any] = {
        "name": values.get("name", ""),
        "message": values.get("message", ""),
        "sender_type": sender_type,
        "sender": values.get("sender_number" if sender_type == "number" else "sender_name", ""),
    }
    if values.get("channel") == "whatsapp":
        spec["channel"] = "whatsapp"
        spec["whatsapp_template"] = template_from_form(
            values.get("whatsapp_template", ""), values.get("whatsapp_variables", "")
        )
    if values.get("source") == "list" and values.get("list_id", "").isdigit():
        spec["list_id"] = int(values["list_id"])
    if values.get("hours_from") or values.get("hours_to"):
        spec["hours"] = {"from": values.get("hours_from") or None, "to": values.get("hours_to") or None}
    return spec


def _form_again(request: Request, ctx: dict[str, Any], exc: ServiceError, values: dict[str, str]) -> Response:
    if exc.status != 422:
        raise ConsoleRefused(exc.status, exc.reason)
    errors = field_errors(exc)
    for field, message in exc.problems():  # the template's parts are two controls: the choice and the variables
        if field and field.startswith("whatsapp_template"):
            errors.pop(field.split(".")[-1], None)
            key = "whatsapp_variables" if field.startswith("whatsapp_template.variables") else "whatsapp_template"
            errors.setdefault(key, message)
    if "sender" in errors:  # one service field, two controls
        errors["sender_number" if values.get("sender_type", "number") == "number" else "sender_name"] = errors["sender"]
    if "hours" in errors:
        errors["hours_from"] = errors["hours"]
    return render(request, "campaigns/new.html", {**ctx, "errors": errors}, status=422)
