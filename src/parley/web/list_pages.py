"""Saved recipient lists (issue 4 §1): create, rename, delete; entries a page at a time; add, remove, CSV upload."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from parley.app_state import ParleyDep
from parley.services.errors import ServiceError
from parley.web.page_router import page_router
from parley.web.security import CSRF_FIELD, ConsoleRefused, ConsoleSession
from parley.web.templating import field_errors, render, set_timezone

# A list id beyond the `integer` column names no list: the app answers a path that fails validation with 404.
ListId = Annotated[int, Path(ge=1, le=2**31 - 1)]

if TYPE_CHECKING:
    from parley.bootstrap import Parley
    from parley.services.directory import User

LISTS_PAGE = 50
ENTRIES_PAGE = 50


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}


router = page_router()


async def _index_context(parley: Parley, user: User, page: int) -> dict[str, Any]:
    set_timezone((await parley.cache.config()).timezone)
    page = max(1, page)
    items, more = await parley.lists.page(user, offset=(page - 1) * LISTS_PAGE, limit=LISTS_PAGE)
    return {"lists": items, "page": page, "more": more, "errors": {}, "values": {}}


async def _list_context(parley: Parley, user: User, list_id: int, after: str | None) -> dict[str, Any]:
    set_timezone((await parley.cache.config()).timezone)
    try:
        saved = await parley.lists.get(user, list_id)
        entries = await parley.lists.entries(user, list_id, after=after, limit=ENTRIES_PAGE)
    except ServiceError as exc:
        raise ConsoleRefused(exc.status, exc.reason) from None
    return {
        "list": saved,
        "entries": entries["entries"],
        "next": entries["next"],
        "after": after,
        "errors": {},
        "values": {},
        "report": None,
    }


@router.get("/lists")
async def index(request: Request, session: ConsoleSession, parley: ParleyDep, page: int = 1) -> Response:
    return render(request, "lists/index.html", await _index_context(parley, session.user, page))


@router.post("/lists")
async def create(request: Request, session: ConsoleSession, parley: ParleyDep) -> Response:
    values = await _form(request)
    try:
        created = await parley.lists.create(session.user, values.get("name", ""))
    except ServiceError as exc:
        ctx = await _index_context(parley, session.user, 1)
        return _again(request, "lists/index.html", ctx, exc, values)
    return RedirectResponse(f"/lists/{created['id']}", status_code=303)


@router.get("/lists/{list_id}")
async def detail(
    request: Request, session: ConsoleSession, list_id: ListId, parley: ParleyDep, after: str | None = None
) -> Response:
    return render(request, "lists/detail.html", await _list_context(parley, session.user, list_id, after))


@router.post("/lists/{list_id}/rename")
async def rename(request: Request, session: ConsoleSession, list_id: ListId, parley: ParleyDep) -> Response:
    values = await _form(request)
    try:
        await parley.lists.rename(session.user, list_id, values.get("name", ""))
    except ServiceError as exc:
        ctx = await _list_context(parley, session.user, list_id, None)
        return _again(request, "lists/detail.html", ctx, exc, {"rename": values})
    return RedirectResponse(f"/lists/{list_id}", status_code=303)


@router.post("/lists/{list_id}/delete")
async def delete(request: Request, session: ConsoleSession, list_id: ListId, parley: ParleyDep) -> Response:
    try:
        await parley.lists.delete(session.user, list_id)
    except ServiceError as exc:
        raise ConsoleRefused(exc.status, exc.reason) from None
    return RedirectResponse("/lists", status_code=303)


@router.post("/lists/{list_id}/entries")
async def add_entry(request: Request, session: ConsoleSession, list_id: ListId, parley: ParleyDep) -> Response:
    values = await _form(request)
    fields = {k.removeprefix("field_"): v for k, v in values.items() if k.startswith("field_") and v}
    try:
        await parley.lists.add_entry(session.user, list_id, values.get("number", ""), fields)
    except ServiceError as exc:
        ctx = await _list_context(parley, session.user, list_id, None)
        return _again(request, "lists/detail.html", ctx, exc, {"entry": values})
    return RedirectResponse(f"/lists/{list_id}", status_code=303)


@router.post("/lists/{list_id}/entries/remove")
async def remove_entry(request: Request, session: ConsoleSession, list_id: ListId, parley: ParleyDep) -> Response:
    values = await _form(request)
    try:
        await parley.lists.remove_entry(session.user, list_id, values.get("number", ""))
    except ServiceError as exc:
        raise ConsoleRefused(exc.status, exc.reason) from None
    back = f"/lists/{list_id}" + (f"?after={quote(values['after'])}" if values.get("after") else "")
    return RedirectResponse(back, status_code=303)


@router.post("/lists/{list_id}/upload")
async def upload(request: Request, session: ConsoleSession, list_id: ListId, parley: ParleyDep) -> Response:
    given = (await request.form()).get("file")
    if not isinstance(given, UploadFile) or not given.filename:
        ctx = await _list_context(parley, session.user, list_id, None)
        return render(request, "lists/detail.html", {**ctx, "errors": {"file": "Choose a CSV file"}}, status=422)
    try:
        report = await parley.lists.upload_csv(session.user, list_id, given.file)
    except ServiceError as exc:
        ctx = await _list_context(parley, session.user, list_id, None)
        return _again(request, "lists/detail.html", ctx, exc, {})
    # The report is shown once, with the list as it now is (no redirect: it would be lost).
    ctx = await _list_context(parley, session.user, list_id, None)
    return render(request, "lists/detail.html", {**ctx, "report": report.as_dict()})


def _again(request: Request, template: str, ctx: dict[str, Any], exc: ServiceError, values: dict[str, Any]) -> Response:
    """The page again with the refusal next to its field: 422 for bad input, 409 for a name taken."""
    if exc.status not in (409, 422):
        raise ConsoleRefused(exc.status, exc.reason)
    return render(request, template, {**ctx, "errors": field_errors(exc), "values": values}, status=exc.status)
