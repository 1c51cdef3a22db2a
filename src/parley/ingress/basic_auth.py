"""HTTP Basic credentials (RFC 7617) read from a request, without FastAPI's own error shape."""

from __future__ import annotations

import base64

from starlette.requests import HTTPConnection

MAX_EXTENSION_LENGTH = 32  # the users table's `extension` column


def basic_pair(request: HTTPConnection) -> tuple[str, str] | None:
    """(user, password) of a Basic header, or None when it is missing or malformed; the user is non-empty and
    printable, of any length (an API key's SID is longer than any extension)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors, as is a non-ASCII header
        return None
    user, sep, password = decoded.partition(":")
    if not sep or not user or not user.isprintable():
        return None
    return user, password


def basic_credentials(request: HTTPConnection) -> tuple[str, str] | None:
    """(extension, password), or None when the header is missing, malformed or names no possible user.

    Anything may arrive here unauthenticated: a header byte that is not ASCII (Starlette decodes headers as
    Latin-1, and b64decode refuses non-ASCII text with a plain ValueError), credentials that are not UTF-8, or an
    extension no user can have (a NUL, which PostgreSQL refuses in text; longer than the column). None of these may
    reach the database: they are simply not credentials, so the request is answered 401.
    """
    pair = basic_pair(request)
    if pair is None or len(pair[0]) > MAX_EXTENSION_LENGTH:
        return None
    return pair
