"""Uploads (issue 11): 20 concurrent MMS uploads of 3 MB each must not stall other requests.

    python -m bench --scenario uploads               # both backends
    python -m bench --scenario uploads --only postgres

One `parley serve --no-workers`. First the 1-number Wildix load alone, paced at a fixed rate (open loop, so a
stall shows as latency instead of hiding in fewer requests); then the same load while 20 clients upload 3 MB
files to `POST /api/v2/media` back to back for the whole window, each at about 12 Mbit/s. The figure is the p99
of the Wildix requests with the uploads running against the same p99 without them; the notes give the upload
rate and the peak RSS of `parley serve` (uploads stream to the store: memory stays flat, not 20 × 3 MB more).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx

from bench.figures import Figure
from bench.procs import free_port, peak_rss_mb

if TYPE_CHECKING:
    from bench.scenarios import Runner

UPLOADERS = 20
FILE_BYTES = 3_000_000
RATE = 200.0  # Wildix requests a second, offered on a fixed schedule
# Each client sends at about 12 Mbit/s (an office uplink shared by 20 agents would give less): 20 uploads in
# flight at all times, 30 MB/s in all. Unpaced, the bench's own Python client would be the bottleneck it measures.
CLIENT_BYTES_PER_SECOND = 1_500_000
CHUNK = 64 * 1024
BOUNDARY = "parley-bench-boundary"


def picture(seed: int) -> bytes:
    """3 MB that sniff as JPEG (the allow-list reads the magic number; the rest is incompressible noise)."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(FILE_BYTES - 11 - 2) + b"\xff\xd9"


def _multipart(body: bytes) -> tuple[bytes, bytes]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="photo.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + body, f"\r\n--{BOUNDARY}--\r\n".encode()


async def _paced(payload: bytes) -> AsyncIterator[bytes]:
    """The body at `CLIENT_BYTES_PER_SECOND`, in 64 KiB chunks on a fixed schedule."""
    started = time.perf_counter()
    for offset in range(0, len(payload), CHUNK):
        due = started + offset / CLIENT_BYTES_PER_SECOND
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        yield payload[offset : offset + CHUNK]


async def _upload_loop(port: int, stop: asyncio.Event, results: list[float], errors: list[str]) -> None:
    from bench.scenarios import AUTH

    user, password = AUTH.split(":")
    start, end = _multipart(picture(0))
    payload = start + end
    headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}", "content-length": str(len(payload))}
    async with httpx.AsyncClient(auth=(user, password), timeout=120) as client:
        while not stop.is_set():
            started = time.perf_counter()
            answer = await client.post(
                f"http://127.0.0.1:{port}/api/v2/media", content=_paced(payload), headers=headers
            )
            if answer.status_code == 201:
                results.append(time.perf_counter() - started)
            elif len(errors) < 3:
                errors.append(f"{answer.status_code} {answer.text[:120]}")


async def uploads(runner: Runner) -> list[Figure]:
    from bench.scenarios import ONE, api

    url = await runner.backend.create("uploads")
    await runner.provision(url, "uploads", free_port())
    server, port = await runner.serve(url, "uploads")
    pace = ["--rate", str(RATE), "--connections", "20"]
    duration = ["--warmup", str(runner.options.warmup), "--duration", str(max(runner.options.duration, 5.0))]
    try:
        await runner.prime(port)
        runner.log(f"Wildix requests alone, {RATE:g}/s")
        quiet = await runner.procs.load("load-uploads-quiet", port, *api(ONE, *pace, *duration))
        runner.log(f"the same while {UPLOADERS} clients upload 3 MB files")
        stop = asyncio.Event()
        done: list[float] = []
        errors: list[str] = []
        tasks = [asyncio.create_task(_upload_loop(port, stop, done, errors)) for _ in range(UPLOADERS)]
        started = time.perf_counter()
        try:
            busy = await runner.procs.load("load-uploads-busy", port, *api(ONE, *pace, *duration))
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
        elapsed = time.perf_counter() - started
        rss = peak_rss_mb(server.pid)
    finally:
        runner.procs.stop(server)
    base = Figure("uploads_quiet_p99", f"Wildix p99 at {RATE:g} req/s, no uploads", quiet["p99_ms"], "ms", against="")
    base.notes.append(f"p50 {quiet['p50_ms']:.1f} ms; {quiet['errors_total']} errors")
    figure = Figure(
        "uploads_busy_p99",
        f"Wildix p99 at {RATE:g} req/s, {UPLOADERS} × 3 MB uploads running",
        busy["p99_ms"],
        "ms",
        against="uploads_quiet_p99",
    )
    megabytes = len(done) * FILE_BYTES / 1e6
    figure.notes.append(
        f"p50 {busy['p50_ms']:.1f} ms; {len(done)} uploads stored ({megabytes / elapsed:.0f} MB/s) in {elapsed:.1f} s, "
        f"each sent at {CLIENT_BYTES_PER_SECOND / 1e6:.1f} MB/s"
    )
    if errors or busy["errors_total"] or quiet["errors_total"]:
        figure.ok = False
        figure.notes.append(f"errors: {busy['errors_total']} requests; uploads: {'; '.join(errors) or 'none'}")
    return [base, figure, Figure("rss_serve_uploads", "Peak RSS, parley serve with uploads", rss or 0.0, "MiB")]
