"""`parley serve` stops on SIGTERM even while a client holds the event stream open (systemd's stop, a deploy)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.provisioning import document
from tests.support.server import ParleyServer, wait_until


async def test_sigterm_ends_serve_although_an_event_stream_is_open(tmp_path: Path) -> None:
    server = ParleyServer(tmp_path)
    server.apply(document())
    await server.start("--no-workers")
    try:
        process = server.process
        assert process is not None
        async with (
            httpx.AsyncClient(auth=("101", "sms101api"), timeout=30) as client,
            client.stream("GET", f"{server.url}/api/v2/events") as stream,
        ):
            assert stream.status_code == 200
            process.terminate()
            # uvicorn waits 5 s for open requests, then closes them: the process ends well within 15 s.
            assert await wait_until(lambda: process.poll() is not None, timeout=15)
    finally:
        await server.close()
