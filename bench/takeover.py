"""Takeover (issue 10): a worker holding 1,800 claimed messages is killed with SIGKILL; how long until another
worker has sent them all, against the time a fresh worker takes to send the same messages with no kill.

    python -m bench --scenario takeover               # both backends
    python -m bench --scenario takeover --only postgres

Both runs queue the messages through the API while no worker runs. Baseline: `parley worker` starts against the
instant SMSC; the clock runs from its spawn to the last message sent. Takeover: a first worker starts against an
SMSC that never answers a submit_sm, so it claims every message and holds them in flight (renewing its leases);
once every job is leased, it is killed with SIGKILL, that SMSC is replaced by the instant one on the same port,
and a second worker is spawned; the clock runs from the kill to the last message sent. The ratio is
takeover ÷ baseline: what the dead worker's leases cost on top of sending.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bench.databases import Counter, count
from bench.figures import Figure
from bench.procs import free_port

if TYPE_CHECKING:
    import subprocess

    from bench.scenarios import Runner

SENT = "SELECT count(*) FROM messages WHERE status IN ('sent', 'delivered')"
LEASED = "SELECT count(*) FROM jobs WHERE lease_until IS NOT NULL"
HOLD = 3600.0  # seconds the holding SMSC waits before answering a submit_sm: never, within the run


async def takeover(runner: Runner) -> list[Figure]:
    n = runner.options.takeover_messages
    baseline = await _run(runner, "takeover-base", n, kill=False)
    taken = await _run(runner, "takeover-kill", n, kill=True)
    base = Figure("takeover_base", f"Baseline: {n:,} queued messages sent by a fresh worker", baseline, "s", against="")
    base.notes.append("from the worker's spawn to the last message sent")
    figure = Figure(
        "takeover",
        f"Takeover: {n:,} claimed messages of a worker killed -9, sent by another",
        taken,
        "s",
        against="takeover_base",
    )
    lease = float(os.environ.get("PARLEY_LEASE_SECONDS", "15"))  # the workers inherit this environment
    figure.notes.append(
        f"from the kill to the last message sent; {taken - baseline:.1f} s more than the baseline "
        f"(lease {lease:g} s, renewed every {lease / 5:g} s)"
    )
    return [base, figure]


async def _run(runner: Runner, label: str, n: int, *, kill: bool) -> float:
    """Seconds until every message is sent: from the worker's spawn, or (``kill``) from the holder's kill."""
    url = await runner.backend.create(label.replace("-", "_"))
    port = free_port()
    smsc = _smsc(runner, label, port, HOLD if kill else 0.0)
    try:
        await runner.procs.wait_port(smsc, port)
        await runner.provision(url, label, port)
        await _preload(runner, url, label, n)
        counter = Counter(url, SENT)
        try:
            if kill:
                holder = runner.procs.python(f"worker-{label}-holder", "parley", "worker", env=runner.parley_env(url))
                await _until(runner, lambda: _leased(url, n), holder, f"{n:,} jobs leased by the first worker")
                runner.log(f"takeover: {n:,} messages claimed and held; kill -9 the worker")
                holder.kill()
                holder.wait(10)
                started = time.perf_counter()
                runner.procs.stop(smsc)  # the instant SMSC takes the port; the dead worker's submits go nowhere
                smsc = _smsc(runner, f"{label}-instant", port, 0.0)
                await runner.procs.wait_port(smsc, port)
            else:
                started = time.perf_counter()
            heir = runner.procs.python(f"worker-{label}", "parley", "worker", env=runner.parley_env(url))

            async def sent() -> bool:
                return await counter() >= n

            await _until(runner, sent, heir, f"{n:,} messages sent")
            return time.perf_counter() - started
        finally:
            await counter.close()
    finally:
        runner.procs.close()


def _smsc(runner: Runner, label: str, port: int, delay: float) -> subprocess.Popen[bytes]:
    return runner.procs.python(f"smsc-{label}", "bench.smsc_quiet", "--port", str(port), "--delay", str(delay))


async def _preload(runner: Runner, url: str, label: str, n: int) -> None:
    from bench.scenarios import HUNDRED, api

    server, port = await runner.serve(url, label)
    try:
        requests = -(-n // 100)
        await runner.procs.load(f"load-{label}", port, *api(HUNDRED, "--connections", "4", "--total", str(requests)))
    finally:
        runner.procs.stop(server)
    queued = await count(url, "SELECT count(*) FROM jobs")
    if queued != n:
        raise RuntimeError(f"preload: {queued} jobs queued, {n} wanted")


async def _leased(url: str, n: int) -> bool:
    return await count(url, LEASED) >= n


async def _until(
    runner: Runner, check: Callable[[], Awaitable[bool]], proc: subprocess.Popen[bytes], what: str
) -> None:
    deadline = time.perf_counter() + runner.options.e2e_timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"parley worker exited:\n{runner.procs.log_tail(proc)}")
        if await check():
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"not {what} after {runner.options.e2e_timeout:.0f} s")
