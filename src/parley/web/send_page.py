"""Send SMS (seed 001 "Add → Send SMS"): one text to several numbers, now or later; and the live text counter."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response

from parley.app_state import ParleyDep
from parley.core.draft import count_draft
from parley.core.outbound import OutboundError
from parley.core.reply_links import sample_link
from parley.services.link_check import check_links
from parley.services.send import SendSms
from parley.web.page_router import page_router
from parley.web.security import CSRF_FIELD, ConsoleRefused, ConsoleSession
from parley.web.templating import render, set_timezone

if TYPE_CHECKING:
    from parley.bootstrap import Parley

# The service's field names, as this form names them.
FORM_FIELDS = {"number": "numbers", "message": "text", "postpone": "postpone", "gsm": "gsm", "license": ""}


def numbers_in(value: str) -> list[str]:
    """The numbers typed: one a line, or separated by commas or semicolons."""
    return [piece.strip() for piece in re.split(r"[,;\n\r]+", value) if piece.strip()]


def read_local_time(value: str, timezone: str) -> datetime:
    """A ``datetime-local`` value (``2026-11-24T17:30``) in the PBX time zone."""
    try:
        naive = datetime.fromisoformat(value.strip())
    except ValueError:
        raise OutboundError("postpone", "Give a date and time like 2026-11-24 17:30") from None
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=ZoneInfo(timezone))


router = page_router()


async def _context(parley: Parley, values: dict[str, str]) -> dict[str, Any]:
    config = await parley.cache.config()
    set_timezone(config.timezone)
    return {
        "values": values,
        "errors": {},
        "timezone": config.timezone,
        "gateways": [("", "Any route")] + [(g, g) for g in sorted(config.gateway_ids)] if config.gateway_ids else [],
        "count": count_draft(values.get("text", ""), sample_link(parley.settings.public_base)),
    }


@router.get("/send")
async def send_form(request: Request, session: ConsoleSession, parley: ParleyDep) -> Response:
    return render(request, "send/page.html", await _context(parley, {}))


@router.post("/send")
async def send(request: Request, session: ConsoleSession, parley: ParleyDep) -> Response:
    form = await request.form()
    values = {k: v.strip() if k != "text" else v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}
    ctx = await _context(parley, values)
    try:
        send_at = read_local_time(values["postpone"], ctx["timezone"]) if values.get("postpone") else None
        result = await parley.outbox.send(
            SendSms(
                user=session.user,
                destinations=numbers_in(values.get("numbers", "")),
                text=values.get("text", ""),
                send_at=send_at,
                gsm=values.get("gsm") or None,
                source="console",
            )
        )
    except OutboundError as exc:
        if exc.forbidden:
            raise ConsoleRefused(403, exc.reason) from None
        ctx["errors"] = {FORM_FIELDS.get(exc.field, exc.field): exc.reason}
        if request.headers.get("HX-Request") == "true":
            response = render(request, "send/_form.html", ctx, status=422)
            response.headers.update({"HX-Retarget": "#send-form", "HX-Reswap": "outerHTML"})
            return response
        return render(request, "send/page.html", ctx, status=422)
    outcome = {
        "queued": [
            {"to": m["recipient"], "status": m["status"], "send_at": m["send_at"], "segments": m["segments"]}
            for m in result.messages
        ],
        "refused": [{"given": r.given, "reason": r.reason} for r in result.refused],
        "warnings": list(result.warnings),
    }
    if request.headers.get("HX-Request") == "true":
        # With a fresh form (out of band): the next send starts empty, without the last errors.
        fresh = {**await _context(parley, {}), "outcome": outcome, "fresh_form": True}
        return render(request, "send/_result.html", fresh)
    return render(request, "send/page.html", {**await _context(parley, {}), "outcome": outcome})


@router.api_route("/compose/count", methods=["GET", "POST"])
async def count(request: Request, session: ConsoleSession, parley: ParleyDep) -> Response:
    """The counter under a message box: ``12 characters · GSM-7 · 1 segment`` (form or query field ``text``)."""
    text, gsm = request.query_params.get("text", ""), request.query_params.get("gsm", "")
    if request.method == "POST":
        form = await request.form()
        given, gsm_given = form.get("text"), form.get("gsm")
        text = given if isinstance(given, str) else ""
        gsm = gsm_given if isinstance(gsm_given, str) else ""
    # Issue 14 §4: links as the transports this user's messages could take will judge them.
    config = await parley.cache.config()
    links = check_links(text, sender=session.user.office_number, gsm=gsm or None, rules=config.link_rules,
                        carriers=config.carriers, own_prefix=parley.outbox.own_links)  # fmt: skip
    count = count_draft(text, sample_link(parley.settings.public_base))
    return render(request, "send/_count.html", {"count": count, "links": links})
