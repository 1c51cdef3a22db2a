"""Files: uploading one (`POST /api/v2/media`), reading one (`GET /api/v2/media/{id}`, with credentials or the
console's session), and the signed address carriers fetch MMS attachments from (`GET /media/{token}`, no session).

An upload streams from the request body into the media store (`ingress/multipart_stream.py`); its size is checked
while it is read, its type from its first bytes. A file is readable by its uploader, by whoever sent or may read a
message that has it, and by admins; to anyone else it does not exist (404, not 403).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.requests import ClientDisconnect

from parley.app_state import ParleyDep
from parley.ingress.api_auth import CurrentUser
from parley.ingress.failures import is_temporary
from parley.ingress.multipart_stream import MultipartFile, UploadError, boundary_of
from parley.services.media import MediaInfo, MediaNotFound, MediaRefused, MediaStore

log = structlog.get_logger()

FIELD = "file"
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {FIELD: {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def _error(status: int, field: str | None, reason: str) -> JSONResponse:
    return JSONResponse({"error": {"field": field, "reason": reason}}, status_code=status)


def _not_found() -> JSONResponse:
    return _error(404, None, "No such file")


def content_disposition(info: MediaInfo) -> str:
    """Pictures show in the browser; everything else downloads. The name twice: plain ASCII for old clients,
    and RFC 6266's UTF-8 ``filename*``."""
    kind = "inline" if info.content_type.startswith("image/") else "attachment"
    plain = info.filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    plain = plain.replace('"', "_").replace("\\", "_")
    return f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{quote(info.filename, safe='')}"


def _headers(info: MediaInfo, cache: str) -> dict[str, str]:
    return {
        "Content-Length": str(info.size),
        "Content-Disposition": content_disposition(info),
        "X-Content-Type-Options": "nosniff",
        # The bytes are never a page: no script, no plugin, no form, even if a browser is made to render them.
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; media-src 'self'; sandbox",
        "Cache-Control": cache,
    }


def _serve(info: MediaInfo, body: AsyncIterator[bytes], cache: str) -> StreamingResponse:
    return StreamingResponse(body, media_type=info.content_type, headers=_headers(info, cache))


async def store_upload(request: Request, media: MediaStore, *, owner_id: int, max_bytes: int) -> JSONResponse:
    """Stream the multipart field `file` of ``request`` into ``media`` and answer as the upload routes do (the API's,
    and the console's ``POST /inbox/media``): 201 ``{id, content_type, size, filename}``, or ``{"error": {field,
    reason}}`` with 400 (not a multipart form with a file, or an interrupted one), 413, 415 or 503."""
    try:
        part = MultipartFile(request.stream(), boundary_of(request.headers.get("content-type")), FIELD)
        await part.find()
        info = await media.save(
            owner_id=owner_id,
            filename=part.filename,
            chunks=part.chunks(),
            max_bytes=max_bytes,
            declared_type=part.content_type,
        )
    except UploadError as exc:
        return _error(400, FIELD, exc.reason)
    except MediaRefused as exc:
        return _error(exc.status, exc.field, exc.reason)
    except ClientDisconnect:
        return _error(400, FIELD, "the upload was interrupted")
    except Exception as exc:
        if not is_temporary(exc):
            raise
        log.warning("media.store_failed", error=type(exc).__name__)
        return _error(503, None, "the file could not be stored now; try again later")
    log.info("media.stored", media_id=info.id, content_type=info.content_type, size=info.size, user=owner_id)
    return JSONResponse(
        {"id": info.id, "content_type": info.content_type, "size": info.size, "filename": info.filename},
        status_code=201,
    )


router = APIRouter(tags=["Media"])


@router.post("/api/v2/media", status_code=201, openapi_extra=_UPLOAD_BODY, response_model=None)
async def upload(request: Request, user: CurrentUser, parley: ParleyDep) -> Any:
    """Store a file (multipart field `file`, up to PARLEY_MAX_MEDIA_BYTES) for attaching to messages.

    Its type is read from its bytes: JPEG, PNG, GIF, WebP; MP3, AMR, OGG audio; MP4, 3GP video; vCard; PDF;
    plain text. Anything else, or bytes that are not what the file's name says, is refused with 415; a file
    over the limit with 413, while it is read. Answers `{id, content_type, size, filename}`."""
    return await store_upload(request, parley.media, owner_id=user.id, max_bytes=parley.settings.max_media_bytes)


@router.get("/api/v2/media/{media_id}", response_class=StreamingResponse)
async def read(media_id: str, user: CurrentUser, parley: ParleyDep) -> Response:
    """A stored file's bytes, for its uploader, the sender and the conversation's members of a message that
    has it, and admins (anyone else: 404)."""
    if len(media_id) > 24:
        return _not_found()
    try:
        info, body = await parley.media.open_for(user, media_id)
    except MediaNotFound:
        return _not_found()
    return _serve(info, body, "private, max-age=3600")


@router.api_route("/media/{token}", methods=["GET", "HEAD"], include_in_schema=False)
async def signed(token: str, request: Request, parley: ParleyDep) -> Response:
    """A file at the signed, expiring address handed to a carrier (no session: the token is the right to it)."""
    media = parley.media
    await media.load_key()
    found = media.read_token(token, media.clock())
    if found is None:
        return _not_found()
    media_id, expired = found
    if expired:
        return _error(410, None, "This link has expired")
    try:
        if request.method == "HEAD":
            info = (await media.info_many([media_id]))[media_id]
            return Response(media_type=info.content_type, headers=_headers(info, "no-store"))
        info, body = await media.open(media_id)
    except (KeyError, MediaNotFound):
        return _not_found()
    return _serve(info, body, "no-store")
