"""Webhooks (issue 13): a 1,000 msg/s inbound burst over SMPP into `parley serve` (with its workers), each message
announced by a ``message.received`` webhook to a local receiver; the delivery rate against the rate the same run
stored the messages at, and the lag from the deliver_sm to the webhook's arrival (bench/webhook_driver.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import TYPE_CHECKING, Any

from bench.figures import Figure, percentile
from bench.inbound import COMPANY, PROVISIONING
from bench.procs import cpu_seconds, free_port, peak_rss_mb

if TYPE_CHECKING:
    from bench.scenarios import Runner

AUTH = "101:sms101api"  # an admin: its endpoint receives every conversation's events
DRAIN = 120.0  # longest wait, after the last send, for the last answers and webhooks
# The receiver is on 127.0.0.1, which webhooks may reach only when allowed (core/webhook_addresses.py).
WEBHOOKS = '\n[webhooks]\nallow_private = ["127.0.0.0/8"]\n'


def _ms(values: list[float]) -> str:
    if not values:
        return "none measured"
    return (
        f"p50 {percentile(values, 0.5) * 1000:.1f} ms, p90 {percentile(values, 0.9) * 1000:.1f} ms, "
        f"p99 {percentile(values, 0.99) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms ({len(values):,})"
    )


async def webhooks(runner: Runner) -> list[Figure]:
    o = runner.options
    url = await runner.backend.create("webhooks")
    smsc_port, receiver_port, http_port = free_port(), free_port(), free_port()
    out = runner.workdir / f"webhooks-{runner.backend.name}.json"
    driver = runner.procs.python(
        "webhook-driver", "bench.webhook_driver", "--smsc-port", str(smsc_port), "--receiver-port",
        str(receiver_port), "--http-port", str(http_port), "--rate", str(o.webhook_rate), "--seconds",
        str(o.webhook_seconds), "--customers", str(o.inbound_customers), "--to", COMPANY, "--auth", AUTH,
        "--out", str(out), "--drain", str(DRAIN),
    )  # fmt: skip
    server: subprocess.Popen[bytes] | None = None
    try:
        await runner.procs.wait_port(driver, smsc_port)
        await runner.provision(url, "webhooks", smsc_port, PROVISIONING + WEBHOOKS)
        env = {**runner.parley_env(url, http_port), "PARLEY_SMTP": f"127.0.0.1:{free_port()}"}
        server = runner.procs.python("serve-webhooks", "parley", "serve", env=env)
        await runner.procs.wait_http(server, f"http://127.0.0.1:{http_port}/healthz")
        total = round(o.webhook_rate * o.webhook_seconds)
        runner.log(f"webhooks: {total:,} deliver_sm at {o.webhook_rate:g}/s, one endpoint for message.received")
        cpu0 = cpu_seconds(server.pid) or 0.0
        code = await asyncio.to_thread(driver.wait, o.webhook_seconds + DRAIN + 120)
        rss, cpu = peak_rss_mb(server.pid), (cpu_seconds(server.pid) or 0.0) - cpu0
        if code != 0 or not out.exists():
            raise RuntimeError(f"the webhook driver failed:\n{runner.procs.log_tail(driver)}")
    finally:
        runner.procs.stop(driver)
        if server is not None:
            runner.procs.stop(server)
    return analyse(json.loads(out.read_text()), o.webhook_rate, rss or 0.0, cpu)


def analyse(result: dict[str, Any], rate: float, rss: float, cpu: float) -> list[Figure]:
    """The figures of one run from the driver's JSON: both rates from the first deliver_sm sent."""
    sent = result["sent"]  # [seq, PDU seq, sent at, answered at or None]
    arrived = {int(seq): (at, created) for seq, (at, created) in result["arrived"].items()}
    stored, lag, to_event, to_receiver, answers, arrivals = [], [], [], [], [], []
    for seq, _, sent_at, answered_at in sent:
        if answered_at is not None:
            stored.append(answered_at - sent_at)
            answers.append(answered_at)
        if seq in arrived:
            at, created = arrived[seq]
            lag.append(at - sent_at)
            to_event.append(created - sent_at)
            to_receiver.append(at - created)
            arrivals.append(at)
    first, last = sent[0][2], sent[-1][2]
    offered = (len(sent) - 1) / (last - first) if last > first else 0.0
    ok_answers = result["statuses"].get("0x00000000", 0)

    base = Figure("webhooks_stored", f"Inbound at {rate:g} msg/s: stored (deliver_sm_resp)", 0.0, "msg/s", against="")
    if answers:
        base.value = len(answers) / max(max(answers) - first, 1e-9)
    base.notes.append(
        f"{len(sent):,} deliver_sm sent at {offered:,.0f}/s; answered {result['statuses']}; "
        f"rate = answered / (last answer − first send), the last {max(answers, default=last) - last:.2f} s after "
        f"the last send"
    )
    base.ok = ok_answers == len(sent)

    hooks = Figure("webhooks", "Webhooks delivered (message.received)", 0.0, "msg/s", against="webhooks_stored")
    if arrivals:
        hooks.value = len(arrivals) / max(max(arrivals) - first, 1e-9)
    missing = len(sent) - len(arrived)
    hooks.notes += [
        f"{len(arrived):,} of {len(sent):,} arrived ({missing:,} missing), {result['duplicates']} duplicates, "
        f"{result['unmatched']} unmatched bodies; the last {max(arrivals, default=last) - last:.2f} s after the "
        f"last send",
        f"rate = arrived / (last arrival − first send); serve CPU {cpu * 1e6 / max(len(sent), 1):.0f} µs/message",
        f"deliver_sm → event created (stored, routed, event written): {_ms(to_event)}",
        f"event created → at the receiver (the sender's queue and the POST): {_ms(to_receiver)}",
    ]
    stored_by = max(answers, default=last)
    after = sorted(at for at in arrivals if at > stored_by)
    if len(after) > 1:
        hooks.notes.append(
            f"after the last message was stored: {len(after):,} more in {after[-1] - stored_by:.2f} s "
            f"({len(after) / (after[-1] - stored_by):,.0f}/s, the sender alone)"
        )
    if missing or result["duplicates"] or result.get("receiver_error"):
        hooks.ok = False
        hooks.notes.append(f"receiver error: {result.get('receiver_error')}")

    figures = [base, hooks]
    for q, name in ((0.5, "p50"), (0.99, "p99")):
        stored_q = Figure(f"webhooks_{name}_stored", f"Inbound {name}, deliver_sm → stored", 0.0, "ms", against="")
        stored_q.value = percentile(stored, q) * 1000
        lag_q = Figure(f"webhooks_{name}_lag", f"Webhook lag {name}, deliver_sm → at the receiver", 0.0, "ms")
        lag_q.value, lag_q.against = percentile(lag, q) * 1000, stored_q.key
        if name == "p99":
            lag_q.notes.append(_ms(lag))
        lag_q.ok = bool(lag) and not missing
        figures += [stored_q, lag_q]
    figures.append(Figure("rss_serve_webhooks", "Peak RSS, parley serve (webhooks)", rss, "MiB", against=""))
    return figures
