"""`wildix_api.FastPath`: the route's GET and POST go straight to its handler; anything else to the app."""

from __future__ import annotations

from typing import Any, cast

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from parley.ingress.wildix_api import PATH, FastPath, Originate


class _Handler:
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, request: Request) -> Response:
        self.seen.append(request.method)
        return PlainTextResponse("handled")


async def _call(method: str, path: str, **scope: Any) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    passed: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        passed.append(scope["method"])
        await PlainTextResponse("routed")(scope, receive, send)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    handler = _Handler()
    fast = FastPath(app, originate=cast(Originate, handler))
    await fast(
        {"type": "http", "method": method, "path": path, "headers": [], "query_string": b"", **scope}, receive, send
    )
    return handler.seen, passed, sent


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_the_routes_requests_go_to_the_handler(method: str) -> None:
    seen, passed, sent = await _call(method, PATH)
    assert (seen, passed) == ([method], [])
    assert sent[-1]["body"] == b"handled"


@pytest.mark.parametrize(
    ("method", "path", "extra"),
    [
        ("HEAD", PATH, {}),
        ("OPTIONS", PATH, {}),
        ("POST", PATH + "/", {}),
        ("POST", "/api/v2/messages", {}),
        ("POST", PATH, {"root_path": "/parley"}),
    ],
)
async def test_anything_else_takes_the_ordinary_way(method: str, path: str, extra: dict[str, Any]) -> None:
    seen, passed, sent = await _call(method, path, **extra)
    assert (seen, passed) == ([], [method])
    assert sent[-1]["body"] == b"routed"


async def test_an_unexpected_failure_reaches_the_apps_error_handling() -> None:
    class Broken(_Handler):
        async def __call__(self, request: Request) -> Response:
            raise RuntimeError("the database went away")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not routed")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("nothing is answered here: Starlette's error middleware answers 500")

    fast = FastPath(app, originate=cast(Originate, Broken()))
    scope = {"type": "http", "method": "POST", "path": PATH, "headers": [], "query_string": b""}
    with pytest.raises(RuntimeError, match="went away"):
        await fast(scope, receive, send)
