"""The bench's SSE agent (bench/inbound_driver.py, issue 15 §5): it waits for Parley's HTTP server, then retries."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from bench.inbound_driver import Agent
from bench.procs import free_port

EVENT = b'event: message.created\ndata: {"message_id": "m1"}\n\n'


def http_server(
    events_status: Callable[[], int],
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """/healthz answers 200; /api/v2/events answers ``events_status()``, and on 200 streams one event and stays open."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await answer(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"GET /api/v2/events"):
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                continue
            status = events_status()
            if status != 200:
                writer.write(f"HTTP/1.1 {status} No\r\ncontent-length: 0\r\n\r\n".encode())
                continue
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            writer.write(f"{len(EVENT):x}\r\n".encode() + EVENT + b"\r\n")
            await reader.read()  # until the client goes

    return serve


async def test_the_stream_opens_once_the_server_answers_http_although_it_started_later() -> None:
    port = free_port()
    agent = Agent(f"http://127.0.0.1:{port}/api/v2/events", ("101", "x"), timeout=30, retry_every=0.01)
    listening = asyncio.create_task(agent.run())
    try:
        async with asyncio.timeout(20):
            while not agent.refused:  # nothing listens yet: Parley is still starting
                await asyncio.sleep(0.01)
            statuses = iter([503])  # and its first answer on the stream is an error
            server = await asyncio.start_server(http_server(lambda: next(statuses, 200)), "127.0.0.1", port)
            async with server:
                await agent.connected.wait()
                while "m1" not in agent.seen:
                    await asyncio.sleep(0.01)
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
    assert agent.error is None
    assert agent.attempts == 2  # the 503, then the stream


async def test_a_refusal_that_retrying_cannot_cure_fails_at_once() -> None:
    server = await asyncio.start_server(http_server(lambda: 401), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        agent = Agent(f"http://127.0.0.1:{port}/api/v2/events", ("101", "wrong"), timeout=30, retry_every=0.01)
        await asyncio.wait_for(agent.run(), 20)
    assert agent.connected.is_set()
    assert agent.error is not None and "401" in agent.error
    assert agent.attempts == 1
