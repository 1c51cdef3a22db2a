"""The curl channel: an HTTP SMS server described by a curl command line the admin pastes.

The command is parsed by `parley.channels.curl_command` (never run by a shell); each send makes one
request with httpx and maps the answer: 2xx is sent, anything else a `DeliveryError` naming the status
and an excerpt of the body.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import httpx

from parley.channels.base import Outgoing, Sent
from parley.channels.curl_command import CurlCommandError, parse_curl, redact
from parley.core.delivery import Rejected, Throttled, TimedOut, Unreachable

_ID_KEYS = ("id", "sid", "message_id", "messageId", "message-id")


class CurlChannel:
    """Sends each message as one HTTP request built from the admin's curl command."""

    kind: ClassVar[str] = "curl"

    def __init__(
        self,
        name: str,
        command: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.name = name
        self.template = parse_curl(command)
        missing = {"{TO_NUMBER}", "{MESSAGE}"} - self.template.placeholders
        if missing:
            raise CurlCommandError(f"the command has no {min(missing)} placeholder")
        self._transport = transport
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def describe(self) -> str:
        """A line for logs, with secrets redacted."""
        return f'curl channel "{self.name}": {self.template.describe()}'

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                verify=not self.template.insecure, transport=self._transport, headers={"User-Agent": "parley"}
            )

    async def send(self, msg: Outgoing) -> Sent:
        if self._client is None:
            raise RuntimeError(f"curl channel {self.name!r} is not started")
        try:
            req = self.template.render(to=msg.to, message=msg.text, sender=msg.sender)
        except ValueError as exc:
            raise Rejected(str(exc)) from exc
        total = req.timeout or self._timeout
        where = redact(self.template.url)
        if msg.before_submit is not None:
            await msg.before_submit()  # the template: no number or text in the reason
        try:
            # httpx's timeouts are per phase; curl's -m bounds the whole exchange, hence asyncio.timeout.
            async with asyncio.timeout(total):
                response = await self._client.request(
                    req.method,
                    req.url,
                    headers=[(n.encode(), v.encode()) for n, v in req.headers],
                    content=req.body or None,
                    auth=req.auth,
                    follow_redirects=req.follow_redirects,
                    timeout=httpx.Timeout(total, connect=req.connect_timeout or total),
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise TimedOut(f"no answer from {where} within {total:g}s") from exc
        except httpx.TooManyRedirects as exc:
            raise Rejected(f"too many redirects: {exc}") from exc
        except httpx.RequestError as exc:
            raise Unreachable(f"{type(exc).__name__}: {redact(str(exc)) or where}") from exc
        return outcome(response)

    async def stop(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


def outcome(response: httpx.Response) -> Sent:
    """What an HTTP answer means for the message: `Sent`, or the `DeliveryError` to raise."""
    status = response.status_code
    excerpt = " ".join(response.text.split())[:200] or response.reason_phrase
    if 200 <= status < 300:
        try:
            payload: object = response.json()
        except ValueError:
            return Sent()
        if isinstance(payload, dict) and payload.get("type") in ("error", "warning"):
            # Another Parley or a Wildix PBX: "warning" means our one destination was not queued.
            raise Rejected(str(payload.get("reason") or f"the server answered {payload['type']}"))
        return Sent(carrier_ids=_carrier_ids(payload))
    if status == 429:
        raise Throttled(f"HTTP 429: {excerpt}")
    if status >= 500:
        raise Unreachable(f"HTTP {status}: {excerpt}")
    raise Rejected(f"HTTP {status}: {excerpt}", code=str(status))


def _carrier_ids(payload: object) -> tuple[str, ...]:
    """An obvious id: top level, or under ``messages``/``data``/``message`` (one per segment if a list)."""
    if isinstance(payload, list):
        return tuple(found for item in payload for found in _carrier_ids(item))
    if not isinstance(payload, dict):
        return ()
    for key in _ID_KEYS:
        value = payload.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return (str(value),)
    for key in ("messages", "data", "message"):
        if found := _carrier_ids(payload.get(key)):
            return found
    return ()
