"""Campaign (issue 4): a large CSV uploaded to `parley serve --no-workers` (time, peak RSS, API latency meanwhile),
then `parley worker` sending the campaign to the instant SMSC; against csv.reader alone and the end-to-end rate."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench.databases import Counter
from bench.figures import Figure, percentile
from bench.procs import cpu_seconds, free_port, peak_rss_mb

if TYPE_CHECKING:
    from bench.scenarios import Runner

AUTH = ("101", "sms101api")
SENDER = "+15551230001"
NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken")
SENT = "SELECT count(*) FROM messages WHERE status IN ('sent', 'delivered') AND campaign_id IS NOT NULL"
PROBE_EVERY = 0.2  # seconds between two GET /api/v2/messages?limit=1


def make_csv(path: Path, rows: int) -> None:
    """``number,first_name`` with distinct +1555… numbers, written in blocks."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("number,first_name\n")
        for start in range(0, rows, 10_000):
            block = range(start, min(rows, start + 10_000))
            out.write("".join(f"+1555{2_000_000 + i:07d},{NAMES[i % len(NAMES)]}\n" for i in block))


class TimedFile(io.FileIO):
    """A file that notes when it was read to its end: the upload's body has then been handed to the socket."""

    read_to_end_at: float | None = None

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        if not data and self.read_to_end_at is None:
            self.read_to_end_at = time.perf_counter()
        return data


class Probe:
    """GET /api/v2/messages?limit=1 every 200 ms, each in its own task (a stalled server delays none of the
    later probes' start), until stopped; latencies in seconds."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.stop = asyncio.Event()

    async def _one(self) -> None:
        started = time.perf_counter()
        try:
            answer = await self.client.get("/api/v2/messages", params={"limit": 1})
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
        else:
            self.latencies.append(time.perf_counter() - started)

    async def run(self, seconds: float | None = None) -> None:
        tasks: set[asyncio.Task[None]] = set()
        ends = None if seconds is None else time.perf_counter() + seconds
        while not self.stop.is_set() and (ends is None or time.perf_counter() < ends):
            task = asyncio.create_task(self._one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), PROBE_EVERY)
        await asyncio.gather(*tasks)

    def note(self) -> str:
        p = self.latencies
        errors = f"; {len(self.errors)} failed: {self.errors[0]}" if self.errors else ""
        return (
            f"{len(p)} probes: p50 {percentile(p, 0.5) * 1000:.1f} ms, max {max(p, default=0.0) * 1000:.1f} ms, "
            f"{sum(1 for x in p if x > 1.0)} over 1 s{errors}"
        )


def upload(base: str, campaign_id: str, path: Path, timeout: float) -> tuple[int, Any, float, float]:
    """POST the CSV as a streamed multipart `file`: (status, answer, seconds to the answer, seconds to send it)."""
    with httpx.Client(auth=AUTH, timeout=httpx.Timeout(timeout, connect=10.0)) as client, TimedFile(path) as f:
        started = time.perf_counter()
        answer = client.post(f"{base}/api/v2/campaigns/{campaign_id}/recipients", files={"file": ("c.csv", f)})
        ended = time.perf_counter()
        sent = (f.read_to_end_at or ended) - started
    try:
        body: Any = answer.json()
    except ValueError:
        body = answer.text[:300]
    return answer.status_code, body, ended - started, sent


async def campaign(runner: Runner) -> list[Figure]:
    o = runner.options
    path = runner.workdir / f"campaign-{o.campaign_rows}.csv"
    if not path.exists():
        runner.log(f"campaign: writing a {o.campaign_rows:,}-row CSV")
        await asyncio.to_thread(make_csv, path, o.campaign_rows)
    runner.log("campaign baseline: csv.reader over the CSV")
    floor = await runner.procs.run_json("csv-baseline", "bench.csv_baseline", str(path))
    base = Figure("campaign_csv", "Baseline: csv.reader over the same CSV", floor["rows"] / floor["seconds"], "rows/s")
    base.against = ""
    base.notes.append(f"{floor['rows']:,} rows in {floor['seconds']:.2f} s; peak RSS {floor['peak_rss_mb']:.0f} MiB")
    url = await runner.backend.create("campaign")
    smsc_port = free_port()
    smsc = runner.procs.python("smsc-campaign", "bench.smsc_quiet", "--port", str(smsc_port))
    try:
        await runner.procs.wait_port(smsc, smsc_port)
        await runner.provision(url, "campaign", smsc_port)
        figures, campaign_id = await _upload(runner, url, path)
        if campaign_id is None:
            runner.log("campaign: the upload failed; not started (see its note)")
        else:
            figures += await _send(runner, url, campaign_id)
    finally:
        runner.procs.stop(smsc)
    return [base, *figures]


async def _upload(runner: Runner, url: str, path: Path) -> tuple[list[Figure], str | None]:
    """Upload with probes; returns the figures and the campaign id (None if the upload failed: not started)."""
    o = runner.options
    server, port = await runner.serve(url, "campaign")
    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=20)
    try:
        async with httpx.AsyncClient(base_url=base, auth=AUTH, timeout=120.0, limits=limits) as client:
            await client.get("/api/v2/messages", params={"limit": 1})  # runs argon2 once; later checks are cached
            idle = Probe(client)
            await idle.run(seconds=2.0 if o.campaign_rows < 1_000_000 else 5.0)
            spec = {"name": "Bench", "sender": SENDER, "message": "Hi {first_name}, 20% off this week"}
            created = await client.post("/api/v2/campaigns", json=spec)
            if created.status_code != 201:
                raise RuntimeError(f"POST /api/v2/campaigns: {created.status_code} {created.text[:300]}")
            campaign_id = str(created.json()["id"])
            before = peak_rss_mb(server.pid) or 0.0
            runner.log(f"campaign: uploading {o.campaign_rows:,} rows")
            busy = Probe(client)
            probing = asyncio.create_task(busy.run())
            try:
                status, answer, seconds, sending = await asyncio.to_thread(
                    upload, base, campaign_id, path, o.upload_timeout
                )
            finally:
                busy.stop.set()
                await probing
            after = peak_rss_mb(server.pid) or 0.0
            counters = (await client.get(f"/api/v2/campaigns/{campaign_id}")).json().get("counters", {})
            uploaded = status == 200 and isinstance(answer, dict) and answer.get("added") == o.campaign_rows
            if uploaded:
                started = await client.post(f"/api/v2/campaigns/{campaign_id}/start")
                if started.status_code != 200:
                    raise RuntimeError(f"start: {started.status_code} {started.text[:300]}")
    finally:
        runner.procs.stop(server)
    rows = o.campaign_rows
    label = f"Campaign upload, {rows:,} rows: CSV → recipients"
    figure = Figure("campaign_upload", label, rows / seconds, "rows/s", against="campaign_csv")
    figure.notes.append(
        f"{seconds:.1f} s from the first byte sent to the answer ({sending:.1f} s sending the body, "
        f"{seconds - sending:.1f} s after it); answer {status}: "
        + str({k: v for k, v in answer.items() if k != "problems"} if isinstance(answer, dict) else answer)
        + f"; counters total {counters.get('total')}, pending {counters.get('pending')}"
    )
    if not uploaded or counters.get("total") != rows:
        figure.ok, figure.value = False, 0.0
        figure.notes.append(f"the upload failed or is incomplete (see serve-campaign.log): {str(answer)[:200]}")
    rss = Figure("rss_campaign_serve", "Peak RSS, parley serve, upload", after, "MiB")
    rss.notes.append(f"VmHWM {before:.0f} MiB before the upload (after start-up and one argon2 check)")
    idle_p99 = Figure("campaign_probe_idle", "API p99 before the upload (GET /messages?limit=1)", 0.0, "ms")
    idle_p99.value, idle_p99.against = percentile(idle.latencies, 0.99) * 1000, ""
    idle_p99.notes.append(idle.note())
    busy_p99 = Figure("campaign_probe_upload", "API p99 during the upload (every 200 ms)", 0.0, "ms")
    busy_p99.value, busy_p99.against = percentile(busy.latencies, 0.99) * 1000, "campaign_probe_idle"
    busy_p99.notes.append(busy.note())
    busy_p99.ok = not busy.errors
    if not figure.ok:  # measured over a failed upload: not what the target is about
        rss.ok = busy_p99.ok = False
        rss.notes.append("the upload failed: this is not the peak of a completed upload")
    return [figure, rss, idle_p99, busy_p99], campaign_id if uploaded else None


async def _send(runner: Runner, url: str, campaign_id: str) -> list[Figure]:
    """`parley worker` on the started campaign: messages sent to the instant SMSC in the first N seconds."""
    o = runner.options
    runner.log(f"campaign: parley worker sending for {o.campaign_seconds:g} s")
    counter = Counter(url, SENT)
    started = time.perf_counter()
    worker = runner.procs.python("worker-campaign", "parley", "worker", env=runner.parley_env(url))
    first: float | None = None
    done = 0
    try:
        while (elapsed := time.perf_counter() - started) < o.campaign_seconds:
            await asyncio.sleep(0.1)
            if worker.poll() is not None:
                raise RuntimeError(f"parley worker exited:\n{runner.procs.log_tail(worker)}")
            done = await counter()
            if first is None and done:
                first = elapsed
        elapsed = time.perf_counter() - started
        rss, cpu = peak_rss_mb(worker.pid), cpu_seconds(worker.pid)
    finally:
        runner.procs.stop(worker)
        await counter.close()
    title = f"Campaign sending, instant SMSC, first {o.campaign_seconds:g} s"
    figure = Figure("campaign_send", title, done / elapsed, "msg/s", against="e2e")
    figure.notes.append(f"{done:,} messages sent in {elapsed:.1f} s from worker start (campaign {campaign_id})")
    if first is not None:
        figure.notes.append(f"first sent after {first:.1f} s; {done / max(elapsed - first, 1e-9):,.0f} msg/s after it")
    if cpu:
        figure.notes.append(f"worker CPU {cpu * 1e6 / max(done, 1):.0f} µs/message")
    figure.ok = done > 0
    return [figure, Figure("rss_worker_campaign", "Peak RSS, parley worker, campaign", rss or 0.0, "MiB")]
