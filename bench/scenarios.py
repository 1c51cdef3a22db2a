"""What is measured on one backend: the baseline, Parley's accept rate, the end-to-end rate to an SMPP sink; the
inbound (bench/inbound.py) and campaign (bench/campaign.py) scenarios use this runner's helpers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.databases import Backend, Counter, count
from bench.figures import Figure, Options
from bench.procs import Procs, cpu_seconds, free_port, peak_rss_mb

__all__ = ["Figure", "Options", "Runner"]

PATH = "/api/v1/originate/sms"
AUTH = "101:sms101api"
TEXT = "Your appointment is confirmed for Tuesday at 10:30. Reply STOP to opt out."
ONE = urlencode({"number": "+15551234567", "message": TEXT})
HUNDRED = urlencode({"number": ",".join(f"+1555200{i:04d}" for i in range(100)), "message": TEXT})
FORM = {"content-type": "application/x-www-form-urlencoded"}
SENT = "SELECT count(*) FROM messages WHERE status IN ('sent', 'delivered')"

PROVISIONING = """\
[pbx]
country = "US"
timezone = "America/New_York"

[[users]]
extension = "101"
name = "Alice Smith"
password = "sms101api"
license = "business"
office_number = "+15551230001"
role = "admin"
sms_package = 200

[[services]]
name = "Support"
static_members = ["101"]
sms_number = "+15551230001"

[[numbers]]
number = "+15551230001"
sms = true
linked_service = "Support"

[[transports]]
name = "carrier"
role = "carrier"
kind = "smpp"
host = "127.0.0.1"
port = {port}
system_id = "parley"
password = "secret"

[[prices]]
prefix = "+1"
price = "0.0079"
currency = "USD"
"""


def api(body: str, *extra: str) -> list[str]:
    """Load generator arguments for POST /api/v1/originate/sms as user 101."""
    return ["--path", PATH, "--auth", AUTH, "--body", body, "--expect", "Success", *extra]


def load_figure(key: str, label: str, result: dict[str, Any], per_request: int) -> Figure:
    figure = Figure(key, label, result["rps"] * per_request, "msg/s" if key != "baseline" else "req/s")
    figure.notes.append(f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms")
    if result["errors_total"] or result["unanswered"] or not result["ok_total"]:
        figure.ok = False
        figure.notes.append(f"{result['errors_total']} errors, {result['unanswered']} unanswered")
        figure.notes += result["samples"][:2]
    return figure


class Runner:
    def __init__(self, backend: Backend, procs: Procs, workdir: Path, options: Options) -> None:
        self.backend, self.procs, self.workdir, self.options = backend, procs, workdir, options

    def log(self, text: str) -> None:
        print(f"  [{self.backend.name}] {text}", file=sys.stderr, flush=True)

    def timed(self, *extra: str) -> list[str]:
        o = self.options
        return ["--connections", str(o.connections), "--warmup", str(o.warmup), "--duration", str(o.duration), *extra]

    async def baseline(self) -> list[Figure]:
        url = await self.backend.create("baseline")
        port = free_port()
        server = self.procs.python(
            "baseline", "bench.baseline_app", "--port", str(port), env={"BENCH_DATABASE_URL": url}
        )
        try:
            await self.procs.wait_http(server, f"http://127.0.0.1:{port}/healthz")
            self.log("baseline: form parse + one INSERT + commit")
            result = await self.procs.load("load-baseline", port, *self.timed("--path", PATH, "--body", ONE))
            rss = peak_rss_mb(server.pid)
        finally:
            self.procs.stop(server)
        figure = load_figure("baseline", "Baseline: form + INSERT + commit", result, 1)
        rows = await count(url, "SELECT count(*) FROM baseline_messages")
        if rows != result["ok_total"]:
            figure.ok = False
            figure.notes.append(f"{rows} rows for {result['ok_total']} answers")
        return [figure, Figure("rss_baseline", "Peak RSS, baseline app", rss or 0.0, "MiB")]

    def parley_env(self, url: str, port: int | None = None) -> dict[str, str]:
        env = {"PARLEY_DATABASE_URL": url, "PARLEY_LOG_LEVEL": "warning"}
        if port is not None:
            env["PARLEY_HTTP"] = f"127.0.0.1:{port}"
        return env

    async def provision(self, url: str, label: str, smsc_port: int, template: str = PROVISIONING) -> None:
        path = self.workdir / f"{label}.toml"
        path.write_text(template.format(port=smsc_port))
        proc = self.procs.python(f"apply-{label}", "parley", "apply", str(path), env=self.parley_env(url))
        try:
            code = await asyncio.to_thread(proc.wait, 120)
        finally:
            self.procs.stop(proc)
        if code != 0:
            raise RuntimeError(f"parley apply failed:\n{self.procs.log_tail(proc)}")

    async def serve(self, url: str, label: str, *, workers: bool = False) -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        flags = [] if workers else ["--no-workers"]
        server = self.procs.python(f"serve-{label}", "parley", "serve", *flags, env=self.parley_env(url, port))
        await self.procs.wait_http(server, f"http://127.0.0.1:{port}/healthz")
        return server, port

    async def prime(self, port: int) -> None:
        """One request before the load, as a running server would have had: its password check is cached.

        Without it, the 50 connections' first requests all miss the cache and each runs argon2 (about
        0.2 s of CPU here), which would land in the measured window (see docs/benchmarks.md).
        """
        async with httpx.AsyncClient(auth=tuple(AUTH.split(":"))) as client:  # type: ignore[arg-type]
            answer = await client.post(f"http://127.0.0.1:{port}{PATH}", content=ONE.encode(), headers=FORM, timeout=30)
        if "Success" not in answer.text:
            raise RuntimeError(f"the priming request was refused: {answer.status_code} {answer.text}")

    async def accept(self) -> list[Figure]:
        url = await self.backend.create("accept")
        await self.provision(url, "accept", free_port())
        server, port = await self.serve(url, "accept")
        try:
            await self.prime(port)
            self.log("Parley accept, 1 number per request")
            one = await self.procs.load("load-accept1", port, *self.timed(*api(ONE)))
            self.log("Parley accept, 100 numbers per request")
            hundred = await self.procs.load("load-accept100", port, *self.timed(*api(HUNDRED)))
            rss = peak_rss_mb(server.pid)
        finally:
            self.procs.stop(server)
        figures = [
            load_figure("accept1", "Parley accept, 1 number/request", one, 1),
            load_figure("accept100", "Parley accept, 100 numbers/request", hundred, 100),
        ]
        rows = await count(url, "SELECT count(*) FROM messages")
        answered = 1 + one["ok_total"] + 100 * hundred["ok_total"]  # 1: the priming request
        if rows != answered:
            figures[1].ok = False
            figures[1].notes.append(f"durability: {rows} rows for {answered} accepted messages")
        else:
            figures[1].notes.append(f"durability ok: {rows} rows = accepted messages")
        return [*figures, Figure("rss_serve", "Peak RSS, parley serve", rss or 0.0, "MiB")]

    async def end_to_end(self, delay: float, messages: int) -> list[Figure]:
        label = f"e2e{round(delay * 1000)}ms"
        key = "e2e_delay" if delay else "e2e"
        smsc_name = f"{delay * 1000:.0f} ms SMSC" if delay else "instant SMSC"
        title = f"End to end, {smsc_name}" + (" (1 bind)" if delay else "")
        url = await self.backend.create(label)
        smsc_port = free_port()
        smsc = self.procs.python(f"smsc-{label}", "bench.smsc_quiet", "--port", str(smsc_port), "--delay", str(delay))
        try:
            await self.procs.wait_port(smsc, smsc_port)
            await self.provision(url, label, smsc_port)
            server, port = await self.serve(url, label)
            try:
                self.log(f"{title}: preloading {messages:,} messages")
                requests = -(-messages // 100)
                extra = ("--connections", "10", "--total", str(requests))
                preload = await self.procs.load(f"load-{label}", port, *api(HUNDRED, *extra))
            finally:
                self.procs.stop(server)
            total = await count(url, "SELECT count(*) FROM messages")
            if preload["errors_total"] or total != requests * 100:
                raise RuntimeError(f"preload: {total} messages queued of {requests * 100}: {preload['samples']}")
            return await self._drain(url, key, title, smsc_name, total)
        finally:
            self.procs.stop(smsc)

    async def _drain(self, url: str, key: str, title: str, smsc_name: str, total: int) -> list[Figure]:
        self.log(f"{title}: parley worker running")
        counter = Counter(url, SENT)
        started = time.perf_counter()
        worker = self.procs.python(f"worker-{key}", "parley", "worker", env=self.parley_env(url))
        first: float | None = None
        done = 0
        try:
            while (elapsed := time.perf_counter() - started) < self.options.e2e_timeout:
                await asyncio.sleep(0.1)
                if worker.poll() is not None:
                    raise RuntimeError(f"parley worker exited:\n{self.procs.log_tail(worker)}")
                done = await counter()
                if first is None and done:
                    first = elapsed
                if done >= total:
                    break
            elapsed = time.perf_counter() - started
            rss, cpu = peak_rss_mb(worker.pid), cpu_seconds(worker.pid)
        finally:
            self.procs.stop(worker)
            await counter.close()
        figure = Figure(key, title, done / elapsed, "msg/s")
        figure.notes.append(f"{done:,} messages in {elapsed:.1f} s from worker start")
        if first is not None and done > 0:
            figure.notes.append(
                f"first sent after {first:.1f} s; {done / max(elapsed - first, 1e-9):,.0f} msg/s after it"
            )
        if cpu:
            figure.notes.append(f"worker CPU {cpu * 1e6 / max(done, 1):.0f} µs/message")
        if done < total:
            figure.ok = False
            figure.notes.append(f"timed out: {done:,} of {total:,} sent")
        return [figure, Figure(f"rss_worker_{key}", f"Peak RSS, parley worker, {smsc_name}", rss or 0.0, "MiB")]

    async def run_all(self) -> tuple[list[Figure], list[str]]:
        """The chosen scenarios, each on its own database; one that fails is reported and the others still run."""
        from bench.campaign import campaign
        from bench.inbound import inbound
        from bench.smpp_server import smpp_server
        from bench.sustained import sustained
        from bench.takeover import takeover
        from bench.uploads import uploads
        from bench.webhooks import webhooks

        figures: list[Figure] = []
        failures: list[str] = []
        steps: list[tuple[str, str, Callable[[], Awaitable[list[Figure]]]]] = [
            ("baseline", "baseline", self.baseline),
            ("accept", "accept", self.accept),
            ("e2e", "end to end, instant SMSC", lambda: self.end_to_end(0.0, self.options.e2e_instant)),
            ("e2e", "end to end, delayed SMSC", lambda: self.end_to_end(self.options.delay, self.options.e2e_delayed)),
            ("inbound", "inbound", lambda: inbound(self)),
            ("campaign", "campaign", lambda: campaign(self)),
            ("takeover", "takeover after kill -9", lambda: takeover(self)),
            ("uploads", "20 concurrent 3 MB uploads", lambda: uploads(self)),
            ("webhooks", "webhooks under an inbound burst", lambda: webhooks(self)),
            ("smpp-server", "SMPP server, one ESME bind", lambda: smpp_server(self)),
            ("sustained", "sustained load, receipts trickling in", lambda: sustained(self)),
        ]
        for scenario, name, step in steps:
            if scenario not in self.options.scenarios:
                continue
            try:
                figures += await step()
            except Exception as exc:
                self.log(f"{name} failed: {exc}")
                lines = str(exc).strip().splitlines()
                failures.append(f"{name}: {lines[-1] if lines else repr(exc)}")
            finally:
                self.procs.close()
        return figures, failures
