"""One gate for text no route can store: NUL characters and lone surrogates in a path, query string or body.

PostgreSQL refuses NUL in text and UTF-8 cannot encode a lone surrogate, so such a value used to travel down to the
database and come back as a 500 — from whichever route it reached. Checking here, once, before routing, covers every
route (the APIs and the console) and every parameter, including JSON bodies of free shape (number settings). The
answer names the parameter in FastAPI's own 422 shape (``{"detail": [{"loc": ["query", "to"], ...}]}``); a path
with a NUL names nothing and is 404.

Cheap on the hot paths: a body is parsed a second time only when its bytes could hold such a character (a ``\\u``
escape, a NUL byte, or the UTF-8 lead byte of an encoded surrogate); otherwise the check is a few byte searches.
Routes under ``exempt`` read their input themselves and answer in their own shapes: the Wildix-compatible API
(its contract fixes its error shape) and the signed webhooks (a carrier's message is stored, with a note, rather
than refused; see ``webhooks.py``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.ingress.inputs import json_problems, text_problem

_MAYBE_BAD_JSON = (b"\\u", b"\x00", b"\xed")  # \xed: the UTF-8 lead byte of U+D000…U+DFFF, surrogates included
_MAYBE_BAD_FORM = (b"%00", b"\x00")


def _printable(part: str | int) -> str | int:
    """A location part that any JSON encoder can write (a key may itself hold the lone surrogate at fault)."""
    return part.encode("utf-8", "backslashreplace").decode() if isinstance(part, str) else part


def _refusal(loc: Sequence[str | int], msg: str) -> JSONResponse:
    detail = [{"loc": [_printable(p) for p in loc], "msg": msg, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


def _form_problem(encoded: bytes, where: str) -> JSONResponse | None:
    """The first NUL in a query string or an urlencoded form (they decode with U+FFFD for bad UTF-8: no surrogates)."""
    if not any(marker in encoded for marker in _MAYBE_BAD_FORM):
        return None
    for name, value in parse_qsl(encoded.decode("latin-1"), keep_blank_values=True):
        problem = text_problem(name) or text_problem(value)
        if problem is not None:
            return _refusal([where, name], problem)
    return None


def _json_problem(body: bytes) -> JSONResponse | None:
    if not any(marker in body for marker in _MAYBE_BAD_JSON):
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: FastAPI answers that itself
    for loc, problem in json_problems(value):
        return _refusal(["body", *loc], problem)
    return None


def content_type(scope: Scope) -> str:
    """The request's media type, lower case, without parameters ("" when there is none)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return str(value.decode("latin-1")).split(";", 1)[0].strip().lower()
    return ""


def _is_json(content_type: str) -> bool:
    # FastAPI reads a body as JSON when it has no content type, or application/json or application/*+json.
    return (
        not content_type
        or content_type == "application/json"
        or (content_type.startswith("application/") and content_type.endswith("+json"))
    )


class InputGuard:
    """ASGI middleware: refuses requests carrying text that cannot be stored (see the module docs)."""

    def __init__(self, app: ASGIApp, *, exempt: Sequence[str] = ()) -> None:
        self.app = app
        self.exempt = tuple(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"]:
            await JSONResponse({"detail": "Not Found"}, status_code=404)(scope, receive, send)
            return
        if scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        refusal = _form_problem(scope.get("query_string", b""), "query")
        kind = content_type(scope)
        reads_body = scope["method"] not in ("GET", "HEAD", "OPTIONS") and (
            _is_json(kind) or kind == "application/x-www-form-urlencoded"
        )
        if refusal is None and reads_body:
            body, ending = await _read_all(receive)
            if ending is None:  # else the client went away while sending: the app sees that
                refusal = _json_problem(body) if _is_json(kind) else _form_problem(body, "body")
            receive = _replay(body, ending, receive)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _read_all(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole body; and the message that ended it early (a disconnect), if one did."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replay(body: bytes, ending: Message | None, receive: Receive) -> Receive:
    """A `receive` that gives the app the body already read (then ``ending``), then what the client sends next."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": ending is not None}]
    if ending is not None:
        pending.append(ending)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
