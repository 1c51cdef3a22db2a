"""HTTP Basic credentials (RFC 7617) read from a request, without FastAPI's own error shape."""

from __future__ import annotations

import base64
import binascii

from starlette.requests import HTTPConnection


def basic_credentials(request: HTTPConnection) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None
