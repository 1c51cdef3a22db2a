"""Inbound (issue 3): MO messages pushed over SMPP at a fixed rate into `parley serve` (with its workers), timed to
stored, routed and seen by an agent; against the baseline app driven at the same rate over HTTP."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bench.figures import Figure, percentile
from bench.inbound_driver import seq_of
from bench.procs import cpu_seconds, free_port, peak_rss_mb
from parley.store.db import Database
from parley.store.tables import messages

if TYPE_CHECKING:
    from bench.scenarios import Runner

COMPANY = "+15551230001"
AUTH = "101:sms101api"
DRAIN = 180.0  # longest wait, after the last send, for the last answers and SSE events

# Two agents with a business license, static members of the service that owns the company number.
PROVISIONING = """\
[pbx]
country = "US"
timezone = "America/New_York"

[[users]]
extension = "101"
name = "Alice Smith"
password = "sms101api"
license = "business"
role = "admin"

[[users]]
extension = "102"
name = "Bob Jones"
password = "bob-secret-102"
license = "business"

[[services]]
name = "Support"
static_members = ["101", "102"]
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
"""


def _ms(values: list[float]) -> str:
    if not values:
        return "none measured"
    return (
        f"p50 {percentile(values, 0.5) * 1000:.1f} ms, p90 {percentile(values, 0.9) * 1000:.1f} ms, "
        f"max {max(values) * 1000:.1f} ms ({len(values):,} messages)"
    )


async def _baseline_at_rate(runner: Runner) -> list[Figure]:
    """The baseline app (one form parse + INSERT + commit per request) driven open-loop at the same rate."""
    o = runner.options
    url = await runner.backend.create("inbound_base")
    port = free_port()
    server = runner.procs.python(
        "baseline-rate", "bench.baseline_app", "--port", str(port), env={"BENCH_DATABASE_URL": url}
    )
    try:
        await runner.procs.wait_http(server, f"http://127.0.0.1:{port}/healthz")
        runner.log(f"inbound baseline: form + INSERT + commit at {o.inbound_rate:g} req/s")
        args = ["--path", "/api/v1/originate/sms", "--body", "number=%2B15551234567&message=Hi", "--expect", "Success"]
        timing = ["--rate", str(o.inbound_rate), "--warmup", "1", "--duration", str(o.inbound_seconds)]
        result = await runner.procs.load("load-baseline-rate", port, *args, *timing)
        rss = peak_rss_mb(server.pid)
    finally:
        runner.procs.stop(server)
    rate = Figure(
        "inbound_base", f"Baseline at {o.inbound_rate:g} req/s: form + INSERT + commit", result["rps"], "req/s"
    )
    rate.against = ""
    rate.notes.append(f"p50 {result['p50_ms']:.1f} ms, max {result['max_ms']:.1f} ms")
    if result["errors_total"] or result["unanswered"]:
        rate.ok = False
        rate.notes.append(
            f"{result['errors_total']} errors, {result['unanswered']} unanswered; {result['samples'][:1]}"
        )
    p99 = Figure("inbound_base_p99", f"Baseline at {o.inbound_rate:g} req/s, p99 latency", result["p99_ms"], "ms")
    p99.against = ""
    return [rate, p99, Figure("rss_inbound_base", "Peak RSS, baseline app at that rate", rss or 0.0, "MiB", against="")]


async def inbound(runner: Runner) -> list[Figure]:
    o = runner.options
    figures = await _baseline_at_rate(runner)
    url = await runner.backend.create("inbound")
    smsc_port, http_port = free_port(), free_port()
    out = runner.workdir / f"inbound-{runner.backend.name}.json"
    driver = runner.procs.python(
        "inbound-driver", "bench.inbound_driver", "--smsc-port", str(smsc_port), "--http-port", str(http_port),
        "--rate", str(o.inbound_rate), "--seconds", str(o.inbound_seconds), "--customers", str(o.inbound_customers),
        "--to", COMPANY, "--auth", AUTH, "--out", str(out), "--drain", str(DRAIN),
    )  # fmt: skip
    server: subprocess.Popen[bytes] | None = None
    try:
        await runner.procs.wait_port(driver, smsc_port)
        await runner.provision(url, "inbound", smsc_port, PROVISIONING)
        # Its own SMTP port too: the default (2525) may be taken by a developer's `parley serve` on this host.
        env = {**runner.parley_env(url, http_port), "PARLEY_SMTP": f"127.0.0.1:{free_port()}"}
        server = runner.procs.python("serve-inbound", "parley", "serve", env=env)
        await runner.procs.wait_http(server, f"http://127.0.0.1:{http_port}/healthz")
        total = round(o.inbound_rate * o.inbound_seconds)
        runner.log(f"inbound: {total:,} deliver_sm at {o.inbound_rate:g}/s from {o.inbound_customers} customers")
        cpu0 = cpu_seconds(server.pid) or 0.0
        code = await asyncio.to_thread(driver.wait, o.inbound_seconds + DRAIN + 120)
        rss, cpu = peak_rss_mb(server.pid), (cpu_seconds(server.pid) or 0.0) - cpu0
        if code != 0 or not out.exists():
            raise RuntimeError(f"the inbound driver failed:\n{runner.procs.log_tail(driver)}")
    finally:
        runner.procs.stop(driver)
        if server is not None:
            runner.procs.stop(server)
    return figures + await _analyse(runner, url, json.loads(out.read_text()), rss or 0.0, cpu)


async def _rows(url: str) -> tuple[dict[int, tuple[str, datetime, str | None]], int]:
    """Inbound rows by sequence number: (id, updated_at, conversation_id); and how many conversations exist."""
    db = Database(url, pool_size=1)
    try:
        async with db.read() as conn:
            query = sa.select(messages.c.id, messages.c.body, messages.c.updated_at, messages.c.conversation_id)
            found = (await conn.execute(query.where(messages.c.direction == "in"))).all()
            conversations = int(await conn.scalar(sa.text("SELECT count(*) FROM conversations")) or 0)
    finally:
        await db.close()
    rows = {}
    for row in found:
        seq = seq_of(row.body)
        if seq is not None:
            rows[seq] = (row.id, row.updated_at, row.conversation_id)
    return rows, conversations


async def _analyse(runner: Runner, url: str, result: dict[str, Any], rss: float, cpu: float) -> list[Figure]:
    o = runner.options
    rows, conversations = await _rows(url)
    seen: dict[str, float] = result["seen"]
    sent = result["sent"]  # [seq, PDU seq, sent at, answered at or None]
    stored, routed, shown, ends, joined = [], [], [], [], []
    for seq, _, sent_at, answered_at in sent:
        if answered_at is not None:
            stored.append(answered_at - sent_at)
        row = rows.get(seq)
        if row is None:
            continue
        message_id, updated_at, conversation_id = row
        if conversation_id is not None:
            routed.append(updated_at.timestamp() - sent_at)
            ends.append(updated_at.timestamp())
            if seq >= o.inbound_customers * 2:  # the customer's conversation was opened well before
                joined.append(routed[-1])
        if message_id in seen:
            shown.append(seen[message_id] - sent_at)
            ends.append(seen[message_id])
    first, last = sent[0][2], sent[-1][2]
    offered = (len(sent) - 1) / (last - first) if last > first else 0.0
    done = min(len(routed), len(shown)) if shown else len(routed)
    end = max(ends, default=last)
    rate = Figure("inbound", f"Inbound at {o.inbound_rate:g} msg/s: stored and routed", done / (end - first), "msg/s")
    rate.against = "inbound_base"
    rate.notes += [
        f"{len(sent):,} deliver_sm sent at {offered:,.0f}/s; answered {result['statuses']}; stored {len(rows):,}, "
        f"routed {len(routed):,}, seen on SSE {len(shown):,}; {conversations} conversations",
        f"rate = routed / (last routed or seen − first sent); last one {end - last:.2f} s after the last send",
        f"serve CPU {cpu * 1e6 / max(len(sent), 1):.0f} µs/message",
        f"routed into an existing conversation (from message {o.inbound_customers * 2:,} on): p99 "
        f"{percentile(joined, 0.99) * 1000:.1f} ms, {_ms(joined)}",
    ]
    missing = len(sent) - min(len(stored), len(routed), len(shown))
    if missing or result.get("sse_error") or conversations != min(o.inbound_customers, len(sent)):
        rate.ok = False
        rate.notes.append(f"{missing} messages not answered, routed or seen; SSE error: {result.get('sse_error')}")
    figures = [rate]
    for key, label, values in (
        ("stored", "deliver_sm → stored (deliver_sm_resp)", stored),
        ("routed", "deliver_sm → routed (its updated_at)", routed),
        ("seen", "deliver_sm → agent's SSE event", shown),
    ):
        figure = Figure(f"inbound_p99_{key}", f"Inbound p99, {label}", percentile(values, 0.99) * 1000, "ms")
        figure.against = "inbound_base_p99"
        figure.notes.append(_ms(values))
        figure.ok = bool(values)
        figures.append(figure)
    figures.append(
        Figure("rss_serve_inbound", "Peak RSS, parley serve (inbound)", rss, "MiB", against="rss_inbound_base")
    )
    return figures
