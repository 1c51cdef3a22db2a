"""A small HTTP/1.1 load generator: keep-alive connections, pre-built request bytes, one request in flight each.

Run it in its own process so that it never shares the server's event loop::

    python -m bench.loadgen --port 8080 --path /api/v1/originate/sms --body 'number=%2B1555...&message=Hi' \
        --auth 101:sms101api --connections 50 --warmup 1 --duration 5

It prints one JSON object: requests/s over the measured window, errors (non-2xx, or a 2xx whose body lacks
``--expect``), totals over the whole run (warm-up and drain included) and latency percentiles. With
``--total N`` it sends exactly N requests instead (used to preload a queue) and reports the same figures.

With ``--rate R`` it is open-loop instead: R requests a second on a fixed schedule, whatever the answers, each on
an idle connection (or as soon as one is free); latency runs from the scheduled time, so a slow answer also counts
against the requests queued behind it (no coordinated omission).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import json
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    ok: int = 0
    errors: int = 0
    issued: int = 0
    total: int | None = None  # stop issuing after this many requests
    stopping: bool = False
    open_loop: bool = False  # --rate: requests are sent by the schedule, not by the previous answer
    measuring: bool = False
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)  # a few error answers, for the report

    def may_issue(self) -> bool:
        return not self.stopping and (self.total is None or self.issued < self.total)


class Client(asyncio.Protocol):
    """One keep-alive connection; reads each answer by its Content-Length, then sends the next request."""

    def __init__(self, request: bytes, expect: bytes, stats: Stats, idle: asyncio.Event) -> None:
        self.request, self.expect, self.stats = request, expect, stats
        self.idle = idle  # set when this connection has nothing in flight
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.sent_at = 0.0
        self.release: Callable[[Client], None] | None = None  # rate mode: hands the idle connection back

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport
        if not self.stats.open_loop:
            self.send()

    def send(self, scheduled: float | None = None) -> None:
        if self.transport is None or self.transport.is_closing() or not self.stats.may_issue():
            self.idle.set()
            return
        self.idle.clear()
        self.stats.issued += 1
        self.sent_at = time.perf_counter() if scheduled is None else scheduled
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            start = head.find(b"\r\ncontent-length:")
            if start < 0:
                self.fail("answer without Content-Length")
                return
            stop = head.find(b"\r\n", start + 2)
            length = int(head[start + 17 : stop if stop > 0 else len(head)])
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.answered(int(head[9:12]), body)

    def answered(self, status: int, body: bytes) -> None:
        stats = self.stats
        stats.statuses[status] += 1
        if 200 <= status < 300 and self.expect in body:
            stats.ok += 1
        else:
            stats.errors += 1
            if len(stats.samples) < 5:
                stats.samples.append(f"{status} {body[:200].decode(errors='replace')}")
        if stats.measuring:
            stats.latencies.append(time.perf_counter() - self.sent_at)
        if self.release is None:
            self.send()
        else:
            self.idle.set()
            self.release(self)

    def fail(self, reason: str) -> None:
        self.stats.errors += 1
        if len(self.stats.samples) < 5:
            self.stats.samples.append(reason)
        if self.transport is not None:
            self.transport.close()
        self.idle.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.idle.is_set():  # a request was in flight
            self.fail(f"connection lost: {exc}")
        self.transport = None


def _same(client: Client) -> Client:
    return client


def build_request(host: str, port: int, path: str, body: bytes, auth: str | None) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/x-www-form-urlencoded",
        f"Content-Length: {len(body)}",
    ]
    if auth:
        lines.append("Authorization: Basic " + base64.b64encode(auth.encode()).decode())
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def paced(
    clients: list[Client], stats: Stats, rate: float, warmup: float, duration: float
) -> tuple[int, int, float, int, int, float]:
    """Issue ``rate`` requests a second on a fixed schedule; returns (ok, errors, time) at both ends of the window."""
    free: deque[Client] = deque(clients)
    backlog: deque[float] = deque()  # scheduled times of requests that found no idle connection

    def release(client: Client) -> None:
        if backlog and not stats.stopping:
            client.send(backlog.popleft())
        else:
            free.append(client)

    for client in clients:
        client.release = release
        client.idle.set()
    start = time.perf_counter()
    issued = 0
    measure_at, stop_at = start + warmup, start + warmup + duration
    ok0 = err0 = 0
    t0 = measure_at
    while (now := time.perf_counter()) < stop_at:
        if not stats.measuring and now >= measure_at:
            stats.measuring, ok0, err0, t0 = True, stats.ok, stats.errors, now
        while issued < (now - start) * rate:
            scheduled = start + issued / rate
            issued += 1
            if free:
                free.popleft().send(scheduled)
            else:
                backlog.append(scheduled)
        await asyncio.sleep(min(0.005, max(0.0, start + issued / rate - time.perf_counter())))
    ok1, err1, t1 = stats.ok, stats.errors, time.perf_counter()
    stats.measuring, stats.stopping = False, True
    stats.errors += len(backlog)  # never sent: the server could not keep up with the schedule
    stats.issued += len(backlog)
    if backlog:
        stats.samples.append(f"{len(backlog)} scheduled requests never found a free connection")
    return ok0, err0, t0, ok1, err1, t1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    request = build_request(args.host, args.port, args.path, args.body.encode(), args.auth)
    stats = Stats(total=args.total, open_loop=bool(args.rate))
    clients: list[Client] = []
    for _ in range(args.connections):
        idle = asyncio.Event()
        client = Client(request, args.expect.encode(), stats, idle)
        await loop.create_connection(functools.partial(_same, client), args.host, args.port)
        clients.append(client)

    def in_flight() -> bool:
        return any(not c.idle.is_set() for c in clients)

    started = time.perf_counter()
    if args.rate:
        ok0, err0, t0, ok1, err1, t1 = await paced(clients, stats, args.rate, args.warmup, args.duration)
    elif args.total is None:
        await asyncio.sleep(args.warmup)
        stats.measuring = True
        ok0, err0, t0 = stats.ok, stats.errors, time.perf_counter()
        await asyncio.sleep(args.duration)
        ok1, err1, t1 = stats.ok, stats.errors, time.perf_counter()
        stats.measuring = False
        stats.stopping = True
    else:
        stats.measuring = True
        ok0, err0, t0 = 0, 0, started
    deadline = time.perf_counter() + args.timeout
    while in_flight() and time.perf_counter() < deadline:  # drain: every request sent gets its answer
        await asyncio.sleep(0.01)
    if args.total is not None:
        ok1, err1, t1 = stats.ok, stats.errors, time.perf_counter()
    for c in clients:
        if c.transport is not None:
            c.transport.close()
    window = t1 - t0
    return {
        "rps": (ok1 - ok0) / window if window > 0 else 0.0,
        "errors": err1 - err0,
        "window": window,
        "ok_total": stats.ok,
        "errors_total": stats.errors,
        "unanswered": stats.issued - stats.ok - stats.errors,
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "samples": stats.samples,
        "p50_ms": percentile(stats.latencies, 0.50) * 1000,
        "p99_ms": percentile(stats.latencies, 0.99) * 1000,
        "max_ms": max(stats.latencies, default=0.0) * 1000,
        "measured": len(stats.latencies),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--body", default="")
    parser.add_argument("--auth", default=None, help="user:password for Basic auth")
    parser.add_argument("--expect", default="", help="a 2xx answer counts as ok only if its body contains this")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--total", type=int, default=None, help="send exactly this many requests, then stop")
    parser.add_argument("--rate", type=float, default=None, help="open loop: requests a second on a fixed schedule")
    parser.add_argument("--timeout", type=float, default=60.0, help="longest wait for the last answers")
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(args))
    else:
        result = uvloop.run(run(args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
