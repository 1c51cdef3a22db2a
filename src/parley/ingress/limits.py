"""Request body size limits, enforced while the body streams in (issue 10).

Without them a webhook was read whole before its signature was checked, and a multipart upload was
spooled to disk however large it was. A pure ASGI middleware, so that nothing reads a body before it:
a declared ``Content-Length`` over the limit is refused before the app runs; otherwise the bytes of each
``http.request`` message are counted as the app pulls them, and the first one past the limit answers
413 and stops the app's reading (it gets an exception from ``receive``; whatever it answers after that is
dropped). Memory and disk used for a refused request stay within the limit.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from parley.settings import Settings

MIB = 1024 * 1024

# CSV uploads: campaign recipients and saved lists, over the API and in the console.
_UPLOADS = re.compile(r"^(/api/v2)?/(campaigns/[^/]+/recipients|lists/[^/]+/upload)$|^/campaigns$")
_WEBHOOKS = "/api/v2/webhooks/"
_MEDIA = ("/api/v2/media", "/inbox/media")  # the API's upload and the console's
# A file of exactly the media limit still comes wrapped in a multipart boundary and part headers: the body may be
# this much larger, so that a file over the limit is refused by the media store, naming the file.
MULTIPART_SLACK = 64 * 1024


class BodyTooLarge(Exception):
    """Raised from ``receive`` once a request's body passed its limit (the 413 is already sent)."""


def describe(size: int) -> str:
    return f"{size / MIB:g} MB" if size >= MIB and size % (MIB // 4) == 0 else f"{size:,} bytes"


def limits(settings: Settings) -> dict[str, int]:
    """`BodyLimits`' arguments from the settings: ``app.add_middleware(BodyLimits, **limits(settings))``."""
    return {
        "default": settings.max_body_bytes,
        "webhooks": settings.max_webhook_bytes,
        "uploads": settings.max_upload_bytes,
        "media": settings.max_media_bytes + MULTIPART_SLACK,
    }


class BodyLimits:
    """``default`` for JSON and forms, ``webhooks`` under /api/v2/webhooks/, ``uploads`` for CSV uploads,
    ``media`` for file uploads (POST /api/v2/media and /inbox/media; ``uploads`` when not given)."""

    def __init__(self, app: ASGIApp, *, default: int, webhooks: int, uploads: int, media: int | None = None) -> None:
        self.app = app
        self._limits = {"default": default, "webhooks": webhooks, "uploads": uploads}
        self._limits["media"] = uploads if media is None else media

    def limit_for(self, path: str) -> tuple[int, str]:
        """The limit for a path, and the setting that changes it."""
        if path.startswith(_WEBHOOKS):
            return self._limits["webhooks"], "PARLEY_MAX_WEBHOOK_BYTES"
        if path in _MEDIA:
            return self._limits["media"], "PARLEY_MAX_MEDIA_BYTES"
        if _UPLOADS.match(path):
            return self._limits["uploads"], "PARLEY_MAX_UPLOAD_BYTES"
        return self._limits["default"], "PARLEY_MAX_BODY_BYTES"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.limit_for(scope["path"])
        declared, chunked = _framing(scope)
        if declared > limit:
            await _refuse(scope, send, limit, setting)
            return
        if declared >= 0 and not chunked:
            # HTTP/1.1 framing (RFC 9112 §6.3): with a Content-Length and no Transfer-Encoding the server hands the
            # app exactly the declared bytes, here within the limit. Nothing to count: `receive` and `send` go
            # through unwrapped (two closures and a call per message fewer on every API request).
            await self.app(scope, receive, send)
            return
        received = 0
        started = refused = False

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not started:
                        await _refuse(scope, send, limit, setting)
                        refused = True
                    raise BodyTooLarge(f"request body over {limit} bytes")
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out: the app's own answer to its failed read is dropped
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except Exception:
            if not refused:
                raise


def _framing(scope: Scope) -> tuple[int, bool]:
    """The declared Content-Length (-1 without a valid one: a malformed one is the server's to refuse), and
    whether a Transfer-Encoding frames the body instead."""
    length, chunked = None, False
    for name, value in scope["headers"]:
        if name == b"content-length" and length is None:
            length = int(value) if value.isdigit() else -1
        elif name == b"transfer-encoding":
            chunked = True
    return (-1 if length is None else length), chunked


async def _refuse(scope: Scope, send: Send, limit: int, setting: str) -> None:
    reason = f"The request body is larger than {describe(limit)}, the limit here (the setting {setting})."
    if scope["path"].startswith("/api/"):
        body, media = json.dumps({"detail": reason}).encode(), b"application/json"
    else:
        body, media = reason.encode(), b"text/plain; charset=utf-8"
    headers = [(b"content-type", media), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
