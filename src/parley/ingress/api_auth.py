"""Who is calling /api/v2: an API key (``Authorization: Bearer <secret>``, or HTTP Basic ``SK…:secret`` as
Twilio's clients send it), HTTP Basic credentials (throttled), or for reads the console's session cookie.

A request made with a key acts as the key's user narrowed to its scopes: the scope the route needs comes from
`core.api_keys.scope_for` (the one table), and a key without it is answered 403 naming the scope.

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

from parley.app_state import parley_of
from parley.core import api_keys as key_rules
from parley.ingress.basic_auth import MAX_EXTENSION_LENGTH, basic_pair
from parley.services.api_keys import ApiKeys, KeyCaller, KeyExpired
from parley.services.auth import Authenticator, Throttled
from parley.services.directory import User
from parley.services.sessions import Sessions
from parley.web.security import SESSION_COOKIE

RECHECK_SECONDS = 3.0

Recheck = Callable[[], Awaitable[bool]]


def client_address(request: HTTPConnection) -> str:
    return request.client.host if request.client else "unknown"


async def current_user(request: Request) -> User:
    """The caller, from an API key, from HTTP Basic credentials checked by the app's `Authenticator`.

    Reads (GET) also accept the web console's session cookie, so the console's pages can use the event
    stream and JSON reads; anything that changes state needs credentials (no CSRF exposure).
    """
    auth = parley_of(request).auth
    header = request.headers.get("authorization")
    token = key_rules.bearer_token(header)
    credentials = basic_pair(request) if token is None else None
    try:
        if token is not None:
            return await _key_user(request, await _keys(request).by_secret(token, client_address(request)))
        if credentials is not None and key_rules.is_key_sid(credentials[0]):
            caller = await _keys(request).by_sid(*credentials, client_address(request))
            return await _key_user(request, caller)
        user = None
        if credentials is not None and len(credentials[0]) <= MAX_EXTENSION_LENGTH:
            user = await auth.authenticate(*credentials, client_address(request))
            if user is not None:
                request.state.recheck = _same_user(auth, user)
        elif credentials is None and request.method in ("GET", "HEAD"):
            sessions = parley_of(request).sessions
            cookie = request.cookies.get(SESSION_COOKIE)
            session = await sessions.resolve(cookie)
            user = session.user if session else None
            if cookie and user is not None:
                request.state.recheck = _same_session(sessions, cookie, user)
    except Throttled as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
    except KeyExpired as exc:
        raise _unauthorised(str(exc)) from None
    if user is None:
        raise _unauthorised("Wrong or missing credentials")
    return user


def _keys(request: Request) -> ApiKeys:
    return parley_of(request).api_keys


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Basic realm="Parley", Bearer realm="Parley"'})


def route_scope(request: Request) -> str:
    """The scope a key needs for this request's route (its path template, as `core.api_keys.ROUTE_SCOPES` has it)."""
    route = request.scope.get("route")
    path = getattr(route, "path", None) or request.url.path
    return key_rules.scope_for(request.method, path)


async def _key_user(request: Request, caller: KeyCaller | None) -> User:
    if caller is None:
        raise _unauthorised("Wrong or missing credentials")
    needed = route_scope(request)
    if not caller.allows(needed):
        raise HTTPException(403, f"this API key lacks the {needed!r} scope")
    request.state.api_key = caller
    request.state.recheck = _same_key(_keys(request), caller)
    return caller.user


CurrentUser = Annotated[User, Depends(current_user)]


async def key_caller(request: Request, needed: str) -> KeyCaller | None:
    """For APIs that take only keys (the Twilio-compatible API): the key of a Bearer or Basic ``SK…:secret``
    request, throttled like the rest; None when the request carries no key credentials or wrong ones (the caller
    answers in its own error shape). Raises `Throttled`, `KeyExpired`, and `KeyScopeMissing` when the key lacks
    ``needed``."""
    keys = _keys(request)
    token = key_rules.bearer_token(request.headers.get("authorization"))
    credentials = basic_pair(request) if token is None else None
    if token is not None:
        caller = await keys.by_secret(token, client_address(request))
    elif credentials is not None and key_rules.is_key_sid(credentials[0]):
        caller = await keys.by_sid(*credentials, client_address(request))
    else:
        return None
    if caller is not None and not caller.allows(needed):
        raise KeyScopeMissing(needed)
    return caller


class KeyScopeMissing(Exception):
    def __init__(self, scope: str) -> None:
        super().__init__(f"this API key lacks the {scope!r} scope")
        self.scope = scope


def _unchanged(before: User, now: User | None) -> bool:
    return now is not None and (now.id, now.role, now.password_hash) == (before.id, before.role, before.password_hash)


def _same_session(sessions: Sessions, token: str, user: User) -> Recheck:
    async def recheck() -> bool:
        session = await sessions.resolve(token)
        return session is not None and _unchanged(user, session.user)

    return recheck


def _same_key(keys: ApiKeys, caller: KeyCaller) -> Recheck:
    async def recheck() -> bool:
        return await keys.still_valid(caller)

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
