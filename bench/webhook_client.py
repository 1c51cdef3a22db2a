"""The HTTP client of outbound webhooks: CPU per POST of httpx and of aiohttp, against raw asyncio streams.

    python -m bench.webhook_client [--posts 4000] [--in-flight 16]

Parley posts a status webhook for every status change of every message, so the client's cost per POST is paid
thousands of times a second under load (issue 15). This measures, in this process, the CPU each client spends per
POST of the same signed JSON body to one keep-alive receiver (a minimal HTTP/1.1 server in another process):
httpx's ``AsyncClient`` (the client Parley uses elsewhere), aiohttp's ``ClientSession`` (the one
`services/webhook_post.py` uses, configured as there) and, as the baseline of the same run, raw asyncio streams
writing the request's bytes and reading the answer (what no client can beat). Figures are ratios to that baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
import uvloop

from bench.procs import free_port

BODY = b'{"id":"evt_1","type":"message.status","created_at":"2026-12-01T06:00:00Z","data":{"id":"0a1b2c",' + (
    b'"status":"delivered","from":"+15551230001","to":"+15557654321","text":"Your appointment is confirmed."}}'
)
HEADERS = {"Content-Type": "application/json", "User-Agent": "Parley-Webhooks/1", "Parley-Signature": "t=1,v1=ab"}
RECEIVER = r"""
import asyncio, sys
async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""

Post = Callable[[], Awaitable[None]]


def own_cpu() -> float:
    """CPU seconds this process has used (user and system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(post: Post, posts: int, in_flight: int) -> tuple[float, float]:
    """(µs of CPU per POST, POSTs a second) for ``posts`` POSTs, ``in_flight`` at a time, after a warm-up."""
    for _ in range(100):
        await post()
    slots = asyncio.Semaphore(in_flight)

    async def one() -> None:
        async with slots:
            await post()

    cpu, started = own_cpu(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(posts)))
    return (own_cpu() - cpu) / posts * 1e6, posts / (time.perf_counter() - started)


async def _raw(url: str, posts: int, in_flight: int) -> tuple[float, float]:
    host, port = url.split("//")[1].split("/")[0].split(":")
    request = (
        f"POST /hook HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {len(BODY)}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
        + "\r\n"
    ).encode() + BODY
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post() -> None:
        reader, writer = idle.pop() if idle else await asyncio.open_connection(host, int(port))
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length"))
        await reader.readexactly(length)
        idle.append((reader, writer))

    try:
        return await _measure(post, posts, in_flight)
    finally:
        for _, writer in idle:
            writer.close()


async def _httpx(url: str, posts: int, in_flight: int) -> tuple[float, float]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:

        async def post() -> None:
            request = client.build_request("POST", url, content=BODY, headers=HEADERS)
            response = await client.send(request, stream=True)
            async for _ in response.aiter_raw():
                pass
            await response.aclose()

        return await _measure(post, posts, in_flight)


async def _aiohttp(url: str, posts: int, in_flight: int) -> tuple[float, float]:
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False, trust_env=False
    ) as session:

        async def post() -> None:
            async with session.post(url, data=BODY, headers=HEADERS, allow_redirects=False) as response:
                await response.content.read(64 * 1024)

        return await _measure(post, posts, in_flight)


async def run(posts: int, in_flight: int) -> list[str]:
    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    try:
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        url = f"http://127.0.0.1:{port}/hook"
        base_cpu, base_rate = await _raw(url, posts, in_flight)
        lines = [f"{'client':<34} {'CPU per POST':>13} {'× baseline':>11} {'POST/s':>9}"]
        lines.append(f"{'baseline: raw asyncio streams':<34} {base_cpu:>10,.0f} µs {1:>10.2f}× {base_rate:>9,.0f}")
        for name, measure in (("aiohttp ClientSession (Parley)", _aiohttp), ("httpx AsyncClient", _httpx)):
            cpu, rate = await measure(url, posts, in_flight)
            lines.append(f"{name:<34} {cpu:>10,.0f} µs {cpu / base_cpu:>10.2f}× {rate:>9,.0f}")
        return lines
    finally:
        receiver.kill()
        receiver.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=4000, help="POSTs per client (default 4,000)")
    parser.add_argument("--in-flight", type=int, default=16, help="POSTs in flight at once (Parley: 16 a receiver)")
    args = parser.parse_args(argv)
    print(f"{args.posts:,} POSTs of {len(BODY)} bytes per client, {args.in_flight} in flight, uvloop", flush=True)
    print("\n".join(uvloop.run(run(args.posts, args.in_flight))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
