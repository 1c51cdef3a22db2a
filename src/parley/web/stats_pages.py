"""SMS statistics (seed 001 "SMS Statistics") and the SMS report with its CSV export (issue 5 item 5).

Read-only pages driven by GET forms, so a period or a filter is a link that can be bookmarked and works without
JavaScript. The per-day chart is inline SVG drawn here on the server (no chart library), with the same numbers
in a table for screen readers and for copying.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from parley.app_state import ParleyDep
from parley.services.errors import ServiceError
from parley.services.statistics import ReportFilter
from parley.store.messages import STATUSES
from parley.web.page_router import page_router
from parley.web.security import ConsoleSession
from parley.web.templating import field_errors, render, set_timezone

if TYPE_CHECKING:
    from parley.bootstrap import Parley
    from parley.services.directory import User

PERIOD_CHOICES = [("this-month", "This month"), ("last-month", "Last month"), ("custom", "Custom dates")]
DIRECTION_CHOICES = [("", "Both"), ("out", "Sent (out)"), ("in", "Received (in)")]
STATUS_CHOICES = [("", "Any status"), *((s, s) for s in STATUSES)]
REPORT_PAGE = 50

# The chart's drawing box (SVG user units; the CSS scales it to the page width).
CHART_W, CHART_H, CHART_LEFT, CHART_BOTTOM, CHART_TOP = 960, 220, 48, 26, 12


def _axis_step(value: int) -> int:
    """A tick step (1, 2, 2.5 or 5 times a power of ten, whole) such that four steps reach ``value``."""
    magnitude = 1
    while True:
        for step in (magnitude, 2 * magnitude, 5 * magnitude // 2, 5 * magnitude):
            if step and 4 * step >= value:
                return step
        magnitude *= 10


def chart(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars for messages in and out per day, as coordinates the template draws."""
    step = _axis_step(max([1, *(max(d["in"], d["out"]) for d in days)]))
    top = 4 * step
    plot_w, plot_h = CHART_W - CHART_LEFT - 8, CHART_H - CHART_TOP - CHART_BOTTOM
    slot = plot_w / max(1, len(days))
    bar = max(1.0, slot * 0.38)
    label_every = max(1, -(-len(days) // 12))
    bars, labels = [], []
    for n, d in enumerate(days):
        x = CHART_LEFT + n * slot + slot * 0.1
        for k, direction in enumerate(("out", "in")):
            height = plot_h * d[direction] / top
            bars.append({
                "x": round(x + k * bar, 1), "y": round(CHART_TOP + plot_h - height, 1), "w": round(bar, 1),
                "h": round(height, 1), "direction": direction, "value": d[direction], "day": d["day"],
            })  # fmt: skip
        if n % label_every == 0:
            labels.append({"x": round(x + bar, 1), "text": d["day"].strftime("%d %b")})
    ticks = [{"value": step * i, "y": round(CHART_TOP + plot_h - plot_h * i / 4, 1)} for i in range(5)]
    return {
        "w": CHART_W, "h": CHART_H, "left": CHART_LEFT, "bottom": CHART_TOP + plot_h, "right": CHART_W - 8,
        "bars": bars, "labels": labels, "ticks": ticks,
    }  # fmt: skip


def _report_filter(request: Request) -> ReportFilter:
    q = request.query_params
    return ReportFilter(
        period=q.get("period", "this-month"),
        first=q.get("first", ""),
        last=q.get("last", ""),
        user=q.get("user", ""),
        direction=q.get("direction", ""),
        status=q.get("status", ""),
        sender=q.get("sender", ""),
        recipient=q.get("recipient", ""),
        text=q.get("text", ""),
    )


def _query_string(f: ReportFilter, **extra: str) -> str:
    given = {k: v for k, v in {**f.__dict__, **extra}.items() if v}
    return urlencode(given)


router = page_router()


async def _common(parley: Parley, user: User) -> dict[str, Any]:
    set_timezone((await parley.cache.config()).timezone)
    return {
        "period_choices": PERIOD_CHOICES,
        "user_choices": [("", "Everyone"), *await parley.statistics.user_choices(user)],
    }


@router.get("/stats")
async def overview(
    request: Request,
    session: ConsoleSession,
    parley: ParleyDep,
    period: str = "this-month",
    first: str = "",
    last: str = "",
    user: str = "",
    users_page: int = 1,
) -> Response:
    statistics = parley.statistics
    values = {"period": period, "first": first, "last": last, "user": user}
    ctx = {**await _common(parley, session.user), "values": values, "errors": {}, "figures": None}
    try:
        chosen = await statistics.period(period, first, last)
        figures = await statistics.overview(session.user, chosen, user, users_page)
    except ServiceError as exc:
        return render(request, "stats/index.html", {**ctx, "errors": field_errors(exc)}, status=422)
    if chosen.kind != "custom":  # show the dates a named period stands for
        values.update(first=chosen.first.isoformat(), last=chosen.last.isoformat())
    query = urlencode({k: v for k, v in {"period": period, "first": first, "last": last, "user": user}.items() if v})
    ctx.update(figures=figures, chart=chart(figures["days"]), period=chosen, query=query)
    return render(request, "stats/index.html", ctx)


@router.get("/stats/messages")
async def report(request: Request, session: ConsoleSession, parley: ParleyDep, before: str = "") -> Response:
    statistics = parley.statistics
    f = _report_filter(request)
    values = dict(f.__dict__)
    ctx = {
        **await _common(parley, session.user),
        "values": values,
        "zone": (await statistics.zone()).key,
        "errors": {},
        "direction_choices": DIRECTION_CHOICES,
        "status_choices": STATUS_CHOICES,
        "messages": [],
        "next": None,
        "before": before,
        "export": "/stats/messages.csv?" + _query_string(f),
        "first_page": "/stats/messages?" + _query_string(f),
    }
    try:
        chosen = await statistics.period(f.period, f.first, f.last)
        page = await statistics.messages(await statistics.query(session.user, f), before=before, limit=REPORT_PAGE)
    except ServiceError as exc:
        return render(request, "stats/messages.html", {**ctx, "errors": field_errors(exc)}, status=422)
    if chosen.kind != "custom":  # show the dates a named period stands for
        values.update(first=chosen.first.isoformat(), last=chosen.last.isoformat())
    older = "/stats/messages?" + _query_string(f, before=page["next"]) if page["next"] else None
    ctx.update(messages=page["messages"], older=older)
    return render(request, "stats/messages.html", ctx)


@router.get("/stats/messages.csv")
async def export(request: Request, session: ConsoleSession, parley: ParleyDep) -> Response:
    f = _report_filter(request)
    try:
        query = await parley.statistics.query(session.user, f)
    except ServiceError as exc:
        return Response(f"{exc.field or 'filter'}: {exc.reason}\n", status_code=422, media_type="text/plain")
    name = f"parley-sms-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.csv"
    return StreamingResponse(
        parley.statistics.export_csv(query),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
