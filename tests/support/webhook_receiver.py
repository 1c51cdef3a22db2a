"""Receivers of outbound webhooks for tests: `HttpSink` records and answers; `SilentServer` accepts connections and
never answers (a receiver that hangs)."""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any

from parley.core.webhook_signing import verify_parley_signature
from tests.support.http_sink import HttpSink, RecordedRequest, SinkResponse

__all__ = ["HttpSink", "SilentServer", "SinkResponse", "envelope", "signed_by"]


def envelope(request: RecordedRequest) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(request.body)
    return found


def signed_by(request: RecordedRequest, secret: str) -> bool:
    """Whether the request carries a valid ``Parley-Signature`` (any time: tests move clocks)."""
    header = request.headers.get("parley-signature", "")
    timestamp = header.partition("t=")[2].partition(",")[0]
    now = int(timestamp) if timestamp.isdigit() else 0
    return verify_parley_signature(secret, header, request.body, now=now)


class SilentServer:
    """Accepts connections and reads, but never answers."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0
        self.connections = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        while await reader.read(4096):
            pass

    async def __aenter__(self) -> SilentServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()
