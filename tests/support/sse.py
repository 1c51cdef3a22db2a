"""A real Server-Sent Events client (httpx streaming) that collects events for a test to wait on."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx


class SseClient:
    def __init__(self, base_url: str, auth: tuple[str, str]) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, auth=auth, timeout=httpx.Timeout(10, read=None))
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._changed = asyncio.Condition()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SseClient:
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self._connected.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()

    async def _read(self) -> None:
        async with self._client.stream("GET", "/api/v2/events") as response:
            response.raise_for_status()
            kind, data = "", ""
            async for line in response.aiter_lines():
                if line.startswith(": connected"):
                    self._connected.set()
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and kind:
                    async with self._changed:
                        self.events.append((kind, json.loads(data)))
                        self._changed.notify_all()
                    kind, data = "", ""

    async def wait_for(self, kind: str, timeout: float = 15, **match: Any) -> dict[str, Any]:
        """The first event of ``kind`` whose data contains ``match``."""

        def found() -> dict[str, Any] | None:
            for k, data in self.events:
                if k == kind and all(data.get(key) == value for key, value in match.items()):
                    return data
            return None

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), timeout)
        result = found()
        assert result is not None
        return result
