"""Files in the inbox: the composer's upload (``POST /inbox/media``) and how the timeline shows a message's files.

The composer uploads each file as soon as it is chosen (console.js, with fetch) and sends the reply with the ids
it got back, as the API's clients do with ``POST /api/v2/media``: the same streaming upload and limits
(`ingress.media_api.store_upload`), under the console's session instead of Basic auth.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from parley.app_state import ParleyDep, parley_of
from parley.core import mms
from parley.ingress.media_api import store_upload
from parley.services.sessions import Session
from parley.web.page_router import page_router
from parley.web.security import CSRF_HEADER, SESSION_COOKIE, SignInRequired, same_token

if TYPE_CHECKING:
    from parley.bootstrap import Parley

# What the composer checks a reply's files against before sending (seed 001: `core.mms.pack` has the last word).
LIMITS = {"mms_max_bytes": mms.MAX_BYTES, "mms_max_files": mms.MAX_FILES}


def filesize(size: int | None) -> str:
    """A file's size as people read it, in decimal units as the MMS limit is written (3,500,000 bytes = 3.5 MB)."""
    if size is None:
        return ""
    if size < 1000:
        return f"{size} byte{'' if size == 1 else 's'}"
    value, unit = (size / 1000, "kB") if size < 1_000_000 else (size / 1_000_000, "MB")
    return f"{value:.2f}".rstrip("0").rstrip(".") + f" {unit}"  # 3.5 MB, 12.34 kB (console.js: the same)


def media_kind(content_type: str | None) -> str:
    """How the timeline shows a file: "image" (a thumbnail), "audio", "video" (players), or "file" (a link)."""
    kind = (content_type or "").split("/", 1)[0]
    return kind if kind in ("image", "audio", "video") else "file"


async def timeline_media(parley: Parley, rows: Sequence[Any]) -> dict[str, list[dict[str, Any]]]:
    """The files of the timeline's MMS and WhatsApp messages, by message id (`MediaStore.attachments`' shape)."""
    ids = [r.id for r in rows if r.channel in ("mms", "whatsapp")]
    return await parley.media.attachments(ids) if ids else {}


async def _uploader(request: Request) -> Session | None:
    """The signed-in user's session, or None when the CSRF token is not in its header. Only the header: the body is
    the file, streamed into the store, never parsed as a form to look for a ``csrf`` field (console.js sends the
    header, as for ``/inbox/{id}/read``). No session at all: the sign-in redirect, as every console route."""
    sessions = parley_of(request).sessions
    session = await sessions.resolve(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise SignInRequired("/inbox")
    if not same_token(request.headers.get(CSRF_HEADER, ""), session.csrf):
        return None
    request.state.session = session
    return session


router = page_router()


@router.post("/inbox/media", response_model=None)
async def upload(request: Request, parley: ParleyDep) -> Response:
    """One file for the composer (multipart field ``file``): 201 ``{id, content_type, size, filename}``, or
    ``{"error": {field, reason}}`` with 400, 413 (over PARLEY_MAX_MEDIA_BYTES), 415 (not an allowed type)."""
    session = await _uploader(request)
    if session is None:
        reason = "The page's security token is missing or out of date: reload the page"
        return JSONResponse({"error": {"field": None, "reason": reason}}, status_code=403)
    max_bytes = parley.settings.max_media_bytes
    return await store_upload(request, parley.media, owner_id=session.user.id, max_bytes=max_bytes)
