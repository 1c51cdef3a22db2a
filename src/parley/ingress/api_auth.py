"""Who is calling /api/v2: HTTP Basic credentials (throttled), or for reads the console's session cookie.

A long-lived answer (the SSE stream) was authorised once, when it began; `ends_when_revoked` keeps asking
the database whether that still holds — the session not signed out, the password not changed, the user
neither removed nor given another role — and ends the stream when it does not.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.requests import HTTPConnection

from parley.ingress.basic_auth import basic_credentials
from parley.services.auth import Authenticator, Throttled
from parley.services.directory import User
from parley.services.sessions import Sessions
from parley.web.security import SESSION_COOKIE

RECHECK_SECONDS = 3.0

Recheck = Callable[[], Awaitable[bool]]


def client_address(request: HTTPConnection) -> str:
    return request.client.host if request.client else "unknown"


async def current_user(request: Request) -> User:
    """The caller, from HTTP Basic credentials checked by the app's `Authenticator`.

    Reads (GET) also accept the web console's session cookie, so the console's pages can use the event
    stream and JSON reads; anything that changes state needs Basic credentials (no CSRF exposure).
    """
    auth: Authenticator = request.app.state.auth
    credentials = basic_credentials(request)
    if credentials is not None:
        try:
            user = await auth.authenticate(*credentials, client_address(request))
        except Throttled as exc:
            raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
        if user is not None:
            request.state.recheck = _same_user(auth, user)
    elif request.method in ("GET", "HEAD"):
        sessions: Sessions = request.app.state.sessions
        token = request.cookies.get(SESSION_COOKIE)
        session = await sessions.resolve(token)
        user = session.user if session else None
        if token and user is not None:
            request.state.recheck = _same_session(sessions, token, user)
    else:
        user = None
    if user is None:
        raise HTTPException(401, "Wrong or missing credentials", headers={"WWW-Authenticate": 'Basic realm="Parley"'})
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def _unchanged(before: User, now: User | None) -> bool:
    return now is not None and (now.id, now.role, now.password_hash) == (before.id, before.role, before.password_hash)


def _same_session(sessions: Sessions, token: str, user: User) -> Recheck:
    async def recheck() -> bool:
        session = await sessions.resolve(token)
        return session is not None and _unchanged(user, session.user)

    return recheck


def _same_user(auth: Authenticator, user: User) -> Recheck:
    async def recheck() -> bool:
        return _unchanged(user, await auth.user(user.extension))

    return recheck


async def ends_when_revoked(request: Request, stream: AsyncIterator[str]) -> AsyncIterator[str]:
    """``stream``, until the caller's authorisation no longer holds (checked every ``RECHECK_SECONDS``)."""
    recheck: Recheck | None = getattr(request.state, "recheck", None)
    pending: asyncio.Future[str] | None = None
    loop = asyncio.get_running_loop()
    next_check = loop.time() + RECHECK_SECONDS
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(stream))
            await asyncio.wait({pending}, timeout=max(0.0, next_check - loop.time()))
            if recheck is not None and loop.time() >= next_check:
                next_check = loop.time() + RECHECK_SECONDS
                if not await recheck():
                    return
            if pending.done():
                try:
                    chunk = pending.result()
                except StopAsyncIteration:
                    return
                pending = None
                yield chunk
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        if hasattr(stream, "aclose"):
            await stream.aclose()
