"""Sustained load (issue 15): outbound offered open-loop at fixed rates through the Wildix API into one `parley serve`
(with its workers), receipts trickling in one by one 0.5–5 s after each submit_sm, MO messages at 100/s, an agent's
SSE stream and one webhook endpoint, all at once; against the baseline app driven at the same rate.

    python -m bench --scenario sustained --sustained-rates 250,500,1000 --sustained-seconds 60

The far side (SMSC, MO, SSE, webhook receiver) is bench/sustained_driver.py; the figures bench/sustained_figures.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.figures import Figure
from bench.procs import free_port, peak_rss_mb
from bench.scenarios import AUTH, ONE, PROVISIONING, api
from bench.sustained_figures import Busy, Window, baseline_figures, parley_figures
from parley.store.db import Database

if TYPE_CHECKING:
    from bench.scenarios import Runner

COMPANY = "+15551230001"
# The accept scenario's provisioning, plus a second agent in the service and private webhook addresses allowed
# (the receiver listens on 127.0.0.1).
SUSTAINED_PROVISIONING = (
    PROVISIONING
    + """
[[users]]
extension = "102"
name = "Bob Jones"
password = "bob-secret-102"
license = "business"

[webhooks]
allow_private = ["127.0.0.0/8"]
"""
).replace('static_members = ["101"]', 'static_members = ["101", "102"]')
PROGRESS = """SELECT
  (SELECT count(*) FROM messages WHERE direction = 'out' AND status = 'delivered'),
  (SELECT count(*) FROM messages WHERE direction = 'in' AND conversation_id IS NOT NULL),
  (SELECT count(*) FROM webhook_deliveries WHERE state = 'pending')"""


def proc_stats() -> dict[int, tuple[int, float]]:
    """Every process: pid → (parent pid, CPU seconds: user + system, waited-for children included)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        stats[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / tick)
    return stats


def machine_cpu() -> float:
    """CPU seconds every core of the machine spent busy (not idle nor waiting for I/O) since it booted."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int, stats: dict[int, tuple[int, float]] | None = None) -> float:
    """CPU seconds of a process and of its live descendants (waited-for children included)."""
    stats = proc_stats() if stats is None else stats
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == current]
    return total


class PostgresCpu:
    """CPU seconds of the PostgreSQL backends serving one database (pids from pg_stat_activity, times from /proc).

    Sampled every ``every`` seconds from `begin` to `used`, so a backend that exits in between (a pool's overflow
    connection) counts with the last CPU time seen for it. Backends named in `ignored` (the bench's own progress
    queries) are not counted.
    """

    def __init__(self, url: str, every: float = 0.5) -> None:
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.every = every
        self.start: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.ignored: set[int] = set()
        self._sampling: asyncio.Task[None] | None = None

    @staticmethod
    async def _snapshot(conn: asyncpg.Connection) -> dict[int, float]:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        cpu = {}
        for row in await conn.fetch(query):
            with contextlib.suppress(OSError, IndexError):
                fields = Path(f"/proc/{row['pid']}/stat").read_text().rsplit(")", 1)[1].split()
                cpu[row["pid"]] = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        return cpu

    async def begin(self) -> None:
        conn = await asyncpg.connect(self.dsn, timeout=10)
        self.start = await self._snapshot(conn)
        self.last = dict(self.start)
        self._sampling = asyncio.create_task(self._sample(conn))

    async def _sample(self, conn: asyncpg.Connection) -> None:
        try:
            while True:
                await asyncio.sleep(self.every)
                self.last.update(await self._snapshot(conn))
        finally:
            await conn.close()

    async def used(self) -> tuple[float, int]:
        """CPU seconds the backends used since `begin`, and how many backends were counted."""
        if self._sampling is not None:
            self._sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampling
        conn = await asyncpg.connect(self.dsn, timeout=10)
        try:
            self.last.update(await self._snapshot(conn))
        finally:
            await conn.close()
        counted = {pid: cpu for pid, cpu in self.last.items() if pid not in self.ignored}
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in counted.items()), len(counted)


def connections(runner: Runner, rate: float) -> str:
    """Enough keep-alive connections for the open loop to carry ``rate`` with answers taking up to 100 ms."""
    return str(max(runner.options.connections, round(rate / 10)))


async def sustained(runner: Runner) -> list[Figure]:
    figures: list[Figure] = []
    for rate in runner.options.sustained_rates:
        figures += await _baseline(runner, rate)
        figures += await _parley(runner, rate)
    return figures


async def _baseline(runner: Runner, rate: float) -> list[Figure]:
    """The baseline app (form parse + one INSERT + commit) driven open-loop at the same rate for as long."""
    o = runner.options
    label = f"sustained_base{rate:g}"
    url = await runner.backend.create(label)
    port = free_port()
    server = runner.procs.python(label, "bench.baseline_app", "--port", str(port), env={"BENCH_DATABASE_URL": url})
    pg = PostgresCpu(url) if url.startswith("postgresql") else None
    try:
        await runner.procs.wait_http(server, f"http://127.0.0.1:{port}/healthz")
        runner.log(f"sustained baseline: form + INSERT + commit at {rate:g} req/s for {o.sustained_seconds:g} s")
        if pg is not None:
            await pg.begin()
        cpu0 = tree_cpu(server.pid)
        timing = ["--rate", str(rate), "--warmup", "0", "--duration", str(o.sustained_seconds)]
        args = ["--path", "/api/v1/originate/sms", "--body", ONE, "--expect", "Success"]
        result = await runner.procs.load(
            f"load-{label}", port, *args, *timing, "--connections", connections(runner, rate)
        )
        cpu = tree_cpu(server.pid) - cpu0
        pg_cpu = (await pg.used())[0] if pg is not None else None
        rss = peak_rss_mb(server.pid) or 0.0
    finally:
        runner.procs.stop(server)
    return baseline_figures(rate, result, cpu, pg_cpu, rss)


async def _parley(runner: Runner, rate: float) -> list[Figure]:
    o = runner.options
    label = f"sustained{rate:g}"
    url = await runner.backend.create(label)
    smsc_port, http_port, hook_port = free_port(), free_port(), free_port()
    out = runner.workdir / f"{label}-{runner.backend.name}.json"
    low, high = o.receipt_delay
    driver = runner.procs.python(
        f"driver-{label}", "bench.sustained_driver", "--smsc-port", str(smsc_port), "--http-port", str(http_port),
        "--hook-port", str(hook_port), "--mo-rate", str(o.sustained_inbound_rate), "--mo-seconds",
        str(o.sustained_seconds), "--receipt-delay", str(low), str(high), "--to", COMPANY, "--auth", AUTH,
        "--out", str(out),
    )  # fmt: skip
    server: subprocess.Popen[bytes] | None = None
    pg = PostgresCpu(url) if url.startswith("postgresql") else None
    try:
        await runner.procs.wait_port(driver, smsc_port)
        await runner.provision(url, label, smsc_port, SUSTAINED_PROVISIONING)
        env = {**runner.parley_env(url, http_port), "PARLEY_SMTP": f"127.0.0.1:{free_port()}"}
        server = runner.procs.python(f"serve-{label}", "parley", "serve", env=env)
        await runner.procs.wait_http(server, f"http://127.0.0.1:{http_port}/healthz")
        await runner.prime(http_port)
        if o.sustained_webhooks:
            await _webhook_endpoint(http_port, hook_port)
        await _until_ready(runner, driver)
        runner.log(
            f"sustained: {rate:g} msg/s offered for {o.sustained_seconds:g} s, MO at {o.sustained_inbound_rate:g}/s, "
            f"receipts {low:g}–{high:g} s after each submit_sm"
        )
        if pg is not None:
            await pg.begin()
        cpu0, machine0, started = tree_cpu(server.pid), machine_cpu(), time.time()
        driver.send_signal(signal.SIGUSR1)
        timing = ["--rate", str(rate), "--warmup", "0", "--duration", str(o.sustained_seconds)]
        load = await runner.procs.load(
            f"load-{label}", http_port, *api(ONE, *timing, "--connections", connections(runner, rate))
        )
        loaded = time.time()
        during = Busy(machine_cpu() - machine0, tree_cpu(server.pid) - cpu0, loaded - started, os.cpu_count() or 1)
        accepted = 1 + load["ok_total"]  # 1: the priming request
        mo_total = round(o.sustained_inbound_rate * o.sustained_seconds)
        progress = await _drain(runner, url, accepted, mo_total, timeout=max(60.0, 2 * o.sustained_seconds), pg=pg)
        cpu = tree_cpu(server.pid) - cpu0
        pg_cpu, backends = await pg.used() if pg is not None else (None, 0)
        rss = peak_rss_mb(server.pid) or 0.0
        drained = time.time()
        driver.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(driver.wait, 60)
        if code != 0 or not out.exists():
            raise RuntimeError(f"the sustained driver failed:\n{runner.procs.log_tail(driver)}")
    finally:
        runner.procs.stop(driver)
        if server is not None:
            runner.procs.stop(server)
    window = Window(rate, started, loaded, drained, accepted, mo_total, progress, cpu, pg_cpu, backends, rss, during)
    return await parley_figures(url, window, load, json.loads(out.read_text()), webhooks=o.sustained_webhooks)


async def _webhook_endpoint(http_port: int, hook_port: int) -> None:
    """One endpoint of user 101 taking its messages' statuses and the inbound messages, on the driver's receiver."""
    body = {"url": f"http://127.0.0.1:{hook_port}/hook", "events": ["message.status", "message.received"]}
    async with httpx.AsyncClient(auth=tuple(AUTH.split(":"))) as client:  # type: ignore[arg-type]
        answer = await client.post(f"http://127.0.0.1:{http_port}/api/v2/webhook-endpoints", json=body, timeout=30)
    if answer.status_code != 201:
        raise RuntimeError(f"the webhook endpoint was refused: {answer.status_code} {answer.text}")


async def _until_ready(runner: Runner, driver: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    """Until the driver says ``ready``: Parley is bound to its SMSC and the agent's SSE stream is open."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.poll() is not None:
            raise RuntimeError(f"the sustained driver exited:\n{runner.procs.log_tail(driver)}")
        if "ready" in runner.procs.log_tail(driver, 5).splitlines():
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the sustained driver was not ready in {timeout:.0f} s:\n{runner.procs.log_tail(driver)}")


async def _drain(
    runner: Runner, url: str, accepted: int, mo_total: int, *, timeout: float, pg: PostgresCpu | None
) -> tuple[int, int, int]:
    """Wait until every accepted message is delivered, every MO routed and no webhook delivery pending (or timeout);
    returns (delivered, routed, pending webhook deliveries) as last seen. Its queries (counts over whole tables,
    four a second) are not Parley's work: its PostgreSQL backend is left out of ``pg``'s figure."""
    db = Database(url, pool_size=1)
    deadline = time.monotonic() + timeout
    progress: Any = (0, 0, 0)
    try:
        while time.monotonic() < deadline:
            async with db.read() as conn:
                if pg is not None:
                    pg.ignored.add(int((await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()))
                progress = tuple((await conn.execute(sa.text(PROGRESS))).one())
            delivered, routed, pending = progress
            if delivered >= accepted and routed >= mo_total and pending == 0:
                break
            await asyncio.sleep(0.25)
        else:
            runner.log(f"sustained: drain timed out: {progress} of ({accepted}, {mo_total}, 0)")
    finally:
        await db.close()
    return int(progress[0]), int(progress[1]), int(progress[2])
