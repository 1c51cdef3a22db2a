"""Browser security headers on every response (issue 10), as a pure ASGI middleware.

The console runs no inline script or style: htmx and console.js are files under /static, htmx's own
indicator style is switched off (``<meta name="htmx-config">``, the rules live in console.css) and so is its
``eval`` (no ``hx-on``, trigger filters or ``js:`` values: console.js does those jobs). So the policy can be
``'self'`` alone. The API documentation page (Swagger UI) loads its script and style from a CDN and inline:
it gets the same headers but only the framing part of the policy.

HSTS goes out only over TLS — the request's own scheme, or ``X-Forwarded-Proto: https`` from the proxy in
front, as the console's Secure cookie decides.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONSOLE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
DOCS_POLICY = "frame-ancestors 'none'"
DOCS_PATHS = ("/api/v1/doc", "/docs/oauth2-redirect")
HSTS = b"max-age=31536000"

_ALWAYS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


def over_tls(scope: Scope) -> bool:
    """Served over TLS, directly or behind a proxy that says so (the first X-Forwarded-Proto value)."""
    if scope.get("scheme") == "https":
        return True
    for name, value in scope["headers"]:
        if name == b"x-forwarded-proto":
            first: bytes = value.split(b",")[0]
            return first.strip().lower() == b"https"
    return False


def _extra(policy: str, tls: bool) -> tuple[tuple[bytes, bytes], ...]:
    hsts = [(b"strict-transport-security", HSTS)] if tls else []
    return (*_ALWAYS, (b"content-security-policy", policy.encode()), *hsts)


# The four sets a response can get, built once rather than per request: (docs page?, over TLS?) -> headers.
_EXTRA = {
    (docs, tls): _extra(DOCS_POLICY if docs else CONSOLE_POLICY, tls) for docs in (False, True) for tls in (False, True)
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = _EXTRA[scope["path"].startswith(DOCS_PATHS), over_tls(scope)]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                present = {name.lower() for name, _ in headers}  # a header the app set itself stays as it is
                message = {**message, "headers": [*headers, *(item for item in extra if item[0] not in present)]}
            await send(message)

        await self.app(scope, receive, with_headers)
