"""One attempt of an outbound webhook delivery (issue 13 §1), made by `services.webhook_sender`.

Each attempt signs the stored body anew (``Parley-Signature`` with this attempt's time, or Twilio's
``X-Twilio-Signature``), resolves the host, refuses any address that is not public unless ``[webhooks]
allow_private`` allows it (`core.webhook_addresses`), and connects to the address it checked (the URL's host stays
in ``Host`` and in TLS's server name), so DNS cannot swap it afterwards. Redirects are not followed (a 3xx is a
failure), the whole attempt is bounded in time and at most `ANSWER_BYTES` of the answer are read (as it came:
not decompressed).

The client is aiohttp, not httpx as elsewhere: under load a status webhook is sent for every status change of every
message, and a POST cost about ten times the CPU in httpx (docs/architecture.md, "Outbound webhooks").
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
import structlog

from parley.core import webhook_addresses as addresses
from parley.core import webhook_events as ev
from parley.core.webhook_signing import HEADER, TWILIO_HEADER, parley_signature, twilio_signature

log = structlog.get_logger()
ANSWER_BYTES = 64 * 1024  # read at most this much of an answer
ATTEMPT_SECONDS = 15.0  # an attempt, answer included, ends by then
USER_AGENT = "Parley-Webhooks/1"
CONNECTIONS = 100  # connections open at once, over all receivers (the sender has at most 64 requests in flight)
CONNECT_SECONDS = 5.0
RESOLVED_SECONDS = 10.0  # a host name's addresses are looked up again after this
ROUTES_KEPT = 1000  # URLs (and host names) kept checked (and resolved); all forgotten when more come


class Resolver(Protocol):
    async def __call__(self, host: str, port: int) -> list[addresses.Address]: ...


async def resolve(host: str, port: int) -> list[addresses.Address]:
    """The host's addresses (getaddrinfo)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))


class Secrets(Protocol):
    """Where signing secrets come from (`services.webhooks.WebhookEndpoints` with the API keys behind it)."""

    async def endpoint_secret(self, endpoint_id: str, sealed: str) -> str | None: ...
    async def key_secret(self, key_id: str) -> str | None: ...
    async def account_sid(self) -> str: ...
    async def allowed_networks(self) -> list[addresses.Network]: ...


@dataclass(frozen=True)
class Answer:
    status: int | None
    error: str | None
    answer: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class _Route:
    """A checked URL, taken apart for its attempts."""

    target: addresses.Target
    host: str  # the Host header: the URL's host (and port)
    path: str  # path and query
    tls_name: str | None  # https: the name the certificate must carry

    def via(self, address: addresses.Address) -> str:
        """The URL with ``address`` in place of the host: the connection goes to the address that was checked."""
        literal = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.target.scheme}://{literal}:{self.target.port}{self.path}"


class WebhookPoster:
    """Makes attempts: signs, checks the address, posts, reads the start of the answer; never raises."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        secrets: Secrets,
        *,
        resolver: Resolver = resolve,
        attempt_seconds: float = ATTEMPT_SECONDS,
        tls: ssl.SSLContext | None = None,  # whom HTTPS receivers' certificates must chain to (default: the system's)
    ) -> None:
        self._clock = clock
        self._secrets = secrets
        self._resolve = resolver
        self._attempt_seconds = attempt_seconds
        self._tls = tls  # the system's is made with the client: loading its CA certificates costs ~40 ms of CPU
        self._session: aiohttp.ClientSession | None = None
        self._routes: dict[str, tuple[list[addresses.Network], _Route]] = {}
        self._resolved: dict[tuple[str, int], tuple[float, list[addresses.Address]]] = {}  # until when, what

    def _client(self) -> aiohttp.ClientSession:
        """The HTTP client, made in the running loop on first use: connections kept open; no proxies from the
        environment (they would connect to the proxy instead of the address that was checked); no cookies."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=CONNECTIONS, ssl=self._tls or ssl.create_default_context()),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=False,
                # The attempt as a whole is bounded by `attempt` (asyncio.timeout): a total here too was a second
                # timer per request, ~10 % of a POST's CPU.
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_SECONDS),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def attempt(self, delivery: Any) -> Answer:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._attempt_seconds):  # no task per attempt (wait_for makes one)
                return await self._post(delivery, started)
        except TimeoutError:
            return Answer(None, f"no answer within {self._attempt_seconds:g} s", None, _ms(started))
        except addresses.UrlRefused as exc:
            return Answer(None, f"refused: {exc}", None, _ms(started))
        except (aiohttp.ClientError, OSError) as exc:
            return Answer(None, f"{type(exc).__name__}: {exc}"[:300], None, _ms(started))
        except Exception as exc:  # a bug must not leave the batch unrecorded (its leases would loop for ever)
            log.exception("webhooks.attempt_failed", delivery=delivery.id)
            return Answer(None, f"internal error: {type(exc).__name__}", None, _ms(started))

    async def _post(self, delivery: Any, started: float) -> Answer:
        if delivery.endpoint_id is not None and not delivery.enabled:
            raise addresses.UrlRefused("the endpoint is disabled")
        url = delivery.endpoint_url if delivery.endpoint_id is not None else delivery.url
        allowed = await self._secrets.allowed_networks()
        route = self._route(url, allowed)
        content, headers = await self._signed(delivery, url)
        address = await self._address(route.target, allowed)
        headers["Host"] = route.host
        post = self._client().post(
            route.via(address), data=content, headers=headers, allow_redirects=False, server_hostname=route.tls_name
        )
        async with post as response:
            kept = bytearray()
            while len(kept) < ANSWER_BYTES and (chunk := await response.content.read(ANSWER_BYTES - len(kept))):
                kept += chunk
            status, location = response.status, response.headers.get("Location", "?")
        text = bytes(kept).decode("utf-8", "replace")[: ev.ANSWER_KEPT]
        error = None
        if 300 <= status < 400:
            error = f"redirect to {location[:200]} not followed"
        elif not 200 <= status < 300:
            error = f"HTTP {status}"
        return Answer(status, error, text, _ms(started))

    def _route(self, url: str, allowed: list[addresses.Network]) -> _Route:
        """The URL checked (`core.webhook_addresses.check_url`) and taken apart: kept per URL for as long as the
        allowed networks are the same list (`Secrets.allowed_networks` gives a new one when the setting changes)."""
        kept = self._routes.get(url)
        if kept is not None and kept[0] is allowed:
            return kept[1]
        target = addresses.check_url(url, allowed)
        parts = urlsplit(url)
        route = _Route(
            target,
            host=parts.netloc.rpartition("@")[2],
            path=urlunsplit(("", "", parts.path or "/", parts.query, "")),
            # TLS: the certificate is checked against the URL's host name (sent as SNI too), not the address
            tls_name=target.host if target.scheme == "https" else None,
        )
        if len(self._routes) >= ROUTES_KEPT:
            self._routes.clear()
        self._routes[url] = (allowed, route)
        return route

    async def _address(self, target: addresses.Target, allowed: list[addresses.Network]) -> addresses.Address:
        """The address to connect to: the URL's literal (checked with the URL), or the first the name resolves to,
        every one of them checked now. A name's addresses are kept `RESOLVED_SECONDS` (a lookup per delivery went
        through the resolver's thread pool); what is kept is checked again at every attempt and is what is
        connected to, so a name cannot swap it for a private one."""
        if target.literal is not None:
            return target.literal
        key, now = (target.host, target.port), time.monotonic()
        kept = self._resolved.get(key)
        if kept is not None and kept[0] > now:
            found = kept[1]
        else:
            found = await self._resolve(target.host, target.port)
            if len(self._resolved) >= ROUTES_KEPT:
                self._resolved.clear()
            self._resolved[key] = (now + RESOLVED_SECONDS, found)
        if not found:
            raise addresses.UrlRefused(f"host {target.host} has no address")
        for address in found:  # every address: a name must not reach a private one through any of them
            addresses.check_address(address, allowed)
        return found[0]

    async def _signed(self, delivery: Any, url: str) -> tuple[bytes, dict[str, str]]:
        """The body and headers of this attempt, signed now."""
        headers = {"User-Agent": USER_AGENT}
        if delivery.format == "twilio":
            secret = await self._secrets.key_secret(delivery.api_key_id) if delivery.api_key_id else None
            if secret is None:
                raise addresses.UrlRefused("the API key that signs this callback is gone")
            params: dict[str, str] = json.loads(delivery.body)
            params["AccountSid"] = await self._secrets.account_sid()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers[TWILIO_HEADER] = twilio_signature(secret, url, params)
            return urlencode(params).encode(), headers
        if delivery.endpoint_id is not None:
            secret = await self._secrets.endpoint_secret(delivery.endpoint_id, delivery.secret_sealed)
        else:
            secret = await self._secrets.key_secret(delivery.api_key_id) if delivery.api_key_id else None
        if secret is None:
            raise addresses.UrlRefused("the secret that signs this delivery cannot be read")
        body = delivery.body.encode()
        headers["Content-Type"] = "application/json"
        headers[HEADER] = parley_signature(secret, int(self._clock().timestamp()), body)
        headers["Parley-Event-Id"] = delivery.event_id
        return body, headers


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
