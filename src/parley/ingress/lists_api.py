"""Saved recipient lists in the native API (/api/v2/lists, issue 4 §1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from tempfile import SpooledTemporaryFile
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from parley.app_state import ParleyDep
from parley.core.recipients import TEMPLATE_CSV
from parley.ingress.api import CurrentUser
from parley.ingress.inputs import RowId

MAX_UPLOAD_BYTES = 256 * 1024 * 1024  # a 1,000,000-row list with a few columns is ~50 MB
_SPOOL_IN_MEMORY = 1024 * 1024  # a raw upload past this goes to a temporary file, as multipart files do

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


class ListName(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


class NewEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str
    fields: dict[str, str] = Field(default_factory=dict, description="Placeholder values, e.g. first_name")


class EntryChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fields: dict[str, str] = Field(description="Placeholder values to set; the others are kept")


def _too_large() -> HTTPException:
    return HTTPException(413, f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")


@asynccontextmanager
async def _spooled(request: Request) -> AsyncIterator[SpooledTemporaryFile[bytes]]:
    """A raw request body, streamed into a temporary file (memory up to 1 MB, then disk), rewound."""
    with SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise _too_large()
            if size > _SPOOL_IN_MEMORY:
                await asyncio.to_thread(spool.write, chunk)  # on disk by now
            else:
                spool.write(chunk)
        spool.seek(0)
        yield spool


router = APIRouter(prefix="/api/v2/lists", tags=["Lists"])  # the routes of /api/v2/lists over the `Lists` use cases


@router.get("")
async def list_lists(user: CurrentUser, parley: ParleyDep) -> list[dict[str, Any]]:
    """Every saved list by name, with its entry count and placeholder columns."""
    return await parley.lists.list_(user)


@router.post("", status_code=201)
async def create_list(body: ListName, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
    """A new empty list; 409 when the name is taken."""
    return await parley.lists.create(user, body.name)


@router.get("/template.csv", response_class=Response)
async def template(user: CurrentUser) -> Response:
    """A CSV to start from: a ``number`` column, and any others become placeholders."""
    return Response(
        TEMPLATE_CSV,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="parley-list-template.csv"'},
    )


@router.get("/{list_id}")
async def get_list(list_id: RowId, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
    """One list with its entry count and placeholder columns."""
    return await parley.lists.get(user, list_id)


@router.patch("/{list_id}")
async def rename_list(list_id: RowId, body: ListName, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
    """Give the list another name; 409 when another list has it."""
    return await parley.lists.rename(user, list_id, body.name)


@router.delete("/{list_id}", status_code=204)
async def delete_list(list_id: RowId, user: CurrentUser, parley: ParleyDep) -> None:
    """The list and its entries; campaigns already made from it keep their recipients."""
    await parley.lists.delete(user, list_id)


@router.post("/{list_id}/upload", openapi_extra=_UPLOAD_BODY)
async def upload(list_id: RowId, request: Request, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
    """Add a CSV's rows: a multipart ``file`` field, or the CSV as the raw body (``text/csv``).

    Answers with what was added, what was already in the list, the duplicates within the file and the bad rows
    (the first 1,000 by line and reason). A file that is not CSV is refused with 422 and nothing is added."""
    await parley.lists.get(user, list_id)  # before reading what may be 50 MB
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10) as form:
            given = form.get("file")
            if not isinstance(given, UploadFile):
                msg = 'Send the CSV as the multipart field "file"'
                raise HTTPException(422, [{"loc": ["body", "file"], "msg": msg, "type": "missing"}])
            if given.size is not None and given.size > MAX_UPLOAD_BYTES:
                raise _too_large()
            report = await parley.lists.upload_csv(user, list_id, given.file)
    else:
        async with _spooled(request) as spool:
            report = await parley.lists.upload_csv(user, list_id, spool)
    return report.as_dict()


@router.get("/{list_id}/entries")
async def list_entries(
    list_id: RowId,
    user: CurrentUser,
    parley: ParleyDep,
    after: Annotated[str | None, Query(description="The `next` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Entries by number, a page at a time."""
    return await parley.lists.entries(user, list_id, after=after, limit=limit)


@router.post("/{list_id}/entries", status_code=201)
async def add_entry(list_id: RowId, body: NewEntry, user: CurrentUser, parley: ParleyDep) -> dict[str, Any]:
    """One number; national numbers are read in the PBX country. 409 when it is in the list already."""
    return await parley.lists.add_entry(user, list_id, body.number, body.fields)


@router.patch("/{list_id}/entries/{number}")
async def update_entry(
    list_id: RowId, number: str, body: EntryChange, user: CurrentUser, parley: ParleyDep
) -> dict[str, Any]:
    """Set some placeholder values of one entry; the others are kept."""
    return await parley.lists.update_entry(user, list_id, number, body.fields)


@router.delete("/{list_id}/entries/{number}", status_code=204)
async def remove_entry(list_id: RowId, number: str, user: CurrentUser, parley: ParleyDep) -> None:
    """Take one number out of the list."""
    await parley.lists.remove_entry(user, list_id, number)
