"""The sustained scenario's figures (issue 15), from what the driver recorded and what Parley stored.

Times are wall-clock seconds on one machine: the driver's `time.time()` against the timestamps Parley writes
(messages.created_at when accepted, receipts.applied_at when a receipt's status is stored).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from bench.figures import Figure, percentile
from bench.inbound_driver import seq_of
from parley.store.db import Database
from parley.store.tables import message_parts, messages, receipts

NONE = "-"  # `Figure.against` for a figure without a comparable baseline figure (no ratio)


@dataclass(frozen=True)
class Busy:
    """The machine's CPU during the load (from its start to the load generator's last answer)."""

    machine: float  # CPU seconds of every process
    serve: float  # … of `parley serve`
    seconds: float
    cores: int

    def note(self) -> str:
        return (
            f"during the load the machine was busy {self.machine / self.seconds:.2f} of its {self.cores} cores, "
            f"`parley serve` {self.serve / self.seconds:.2f} (the rest: PostgreSQL, the load generator, the "
            "SMSC/MO/webhook driver)"
        )


@dataclass(frozen=True)
class Window:
    rate: float  # outbound messages a second offered
    started: float  # time.time() when the load started
    loaded: float  # … when the load generator had sent its last request and had every answer
    drained: float  # … when every message was delivered, every MO routed, every webhook sent (or the drain timed out)
    accepted: int  # messages accepted by the API (the priming request's included)
    mo_total: int  # MO messages offered
    progress: tuple[int, int, int]  # (delivered, routed, webhook deliveries pending) at the end of the drain
    cpu: float  # CPU seconds of `parley serve` from the start of the load to the end of the drain
    pg_cpu: float | None  # … of the PostgreSQL backends of Parley's database (None on SQLite)
    backends: int  # PostgreSQL backends counted
    rss: float  # peak RSS of `parley serve`, MiB
    busy: Busy | None = None


def _ms(values: list[float]) -> str:
    if not values:
        return "none measured"
    return (
        f"p50 {percentile(values, 0.5) * 1000:,.1f} ms, p90 {percentile(values, 0.9) * 1000:,.1f} ms, "
        f"max {max(values) * 1000:,.1f} ms ({len(values):,} measured)"
    )


def _p99(key: str, label: str, values: list[float], against: str) -> Figure:
    figure = Figure(key, label, percentile(values, 0.99) * 1000, "ms", against=against)
    figure.notes.append(_ms(values))
    figure.ok = bool(values)
    return figure


def baseline_figures(rate: float, result: dict[str, Any], cpu: float, pg_cpu: float | None, rss: float) -> list[Figure]:
    key = f"s{rate:g}_base"
    answered = max(result["ok_total"], 1)
    figure = Figure(key, f"[{rate:g}/s] Baseline app at {rate:g} req/s: form + INSERT + commit", result["rps"], "req/s",
                    against="")  # fmt: skip
    figure.notes.append(
        f"p50 {result['p50_ms']:.1f} ms, max {result['max_ms']:.1f} ms, {result['ok_total']:,} answered"
    )
    if result["errors_total"] or result["unanswered"]:
        figure.ok = False
        figure.notes.append(
            f"{result['errors_total']} errors, {result['unanswered']} unanswered; {result['samples'][:1]}"
        )
    figures = [
        figure,
        Figure(f"{key}_p99", f"[{rate:g}/s] Baseline p99 latency", result["p99_ms"], "ms", against=""),
        Figure(f"{key}_cpu", f"[{rate:g}/s] Baseline app CPU per request", cpu * 1e6 / answered, "µs", against=""),
    ]
    if pg_cpu is not None:
        label = f"[{rate:g}/s] Baseline: PostgreSQL CPU per request"
        figures.append(Figure(f"{key}_pg", label, pg_cpu * 1e6 / answered, "µs", against=""))
    figures.append(Figure(f"{key}_rss", f"[{rate:g}/s] Peak RSS, baseline app", rss, "MiB", against=""))
    return figures


async def _stored(url: str) -> tuple[list[Any], dict[str, float], list[Any]]:
    """Outbound parts (message id, created_at, carrier id); receipts' applied_at by carrier id; inbound messages."""
    db = Database(url, pool_size=1)
    try:
        async with db.read() as conn:
            parts = (
                await conn.execute(
                    sa.select(messages.c.id, messages.c.created_at, message_parts.c.carrier_id)
                    .join(message_parts, message_parts.c.message_id == messages.c.id)
                    .where(messages.c.direction == "out")
                )
            ).all()
            applied = (
                await conn.execute(
                    sa.select(receipts.c.carrier_id, receipts.c.applied_at).where(receipts.c.applied_at.is_not(None))
                )
            ).all()
            inbound = (
                await conn.execute(
                    sa.select(
                        messages.c.id,
                        messages.c.body,
                        messages.c.created_at,
                        messages.c.updated_at,
                        messages.c.conversation_id,
                    ).where(messages.c.direction == "in")
                )
            ).all()
    finally:
        await db.close()
    return list(parts), {r.carrier_id: r.applied_at.timestamp() for r in applied}, list(inbound)


async def parley_figures(
    url: str, w: Window, load: dict[str, Any], data: dict[str, Any], *, webhooks: bool = True
) -> list[Figure]:
    parts, applied, inbound = await _stored(url)
    submitted: dict[str, float] = data["submitted"]
    receipted: dict[str, float] = data["receipted"]
    hooks: dict[str, float] = data["hooks"]
    submit_lag = [submitted[p.carrier_id] - p.created_at.timestamp() for p in parts if p.carrier_id in submitted]
    stored_lag = [at - receipted[c] for c, at in applied.items() if c in receipted]
    event_lag = [
        hooks[f"{p.id} delivered"] - receipted[p.carrier_id]
        for p in parts
        if p.carrier_id in receipted and f"{p.id} delivered" in hooks
    ]
    times = sorted(t for t in submitted.values() if t >= w.started)
    achieved = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
    r, key = f"{w.rate:g}", f"s{w.rate:g}"
    base = f"{key}_base"
    delivered, routed, pending = w.progress
    rate = Figure(key, f"[{r}/s] Parley: submit_sm/s at the SMSC, {r}/s offered", achieved, "msg/s", against=base)
    rate.notes += [
        f"{w.accepted:,} accepted, {len(submitted):,} submit_sm, {len(receipted):,} receipts sent one by one, "
        f"{delivered:,} delivered; MO {w.mo_total:,} offered, {routed:,} routed; webhook deliveries received "
        f"{data['hook_counts']}, {pending} pending",
        f"last submit_sm {times[-1] - w.loaded:+.2f} s after the load ended; drained {w.drained - w.loaded:.1f} s "
        f"after it"
        if times
        else "no submit_sm",
    ]
    if load["errors_total"] or load["unanswered"] or delivered < w.accepted or routed < w.mo_total or pending:
        rate.ok = False
        rate.notes.append(f"{load['errors_total']} errors, {load['unanswered']} unanswered; {load['samples'][:1]}")
    accept = Figure(f"{key}_accept_p99", f"[{r}/s] Parley p99 accept latency", load["p99_ms"], "ms",
                    against=f"{base}_p99")  # fmt: skip
    accept.notes.append(
        f"p50 {load['p50_ms']:.1f} ms, max {load['max_ms']:.1f} ms (from each request's scheduled time)"
    )
    figures = [
        rate,
        accept,
        _p99(f"{key}_submit_p99", f"[{r}/s] p99 submit lag: accepted → submit_sm", submit_lag, NONE),
        _p99(f"{key}_receipt_p99", f"[{r}/s] p99 receipt lag: receipt sent → status stored", stored_lag, NONE),
        *_inbound(w, key, f"{base}_p99", data, inbound),
    ]
    if webhooks:
        event = _p99(f"{key}_event_p99", f"[{r}/s] p99 receipt lag: receipt sent → webhook received", event_lag, NONE)
        figures.insert(4, event)
    handled = max(w.accepted + w.mo_total, 1)
    cpu = Figure(
        f"{key}_cpu", f"[{r}/s] parley serve CPU per message", w.cpu * 1e6 / handled, "µs", against=f"{base}_cpu"
    )
    cpu.notes.append(
        f"{w.cpu:.1f} CPU-s for {w.accepted:,} outbound + {w.mo_total:,} MO messages, load and drain "
        f"({w.cpu / max(w.drained - w.started, 1e-9):.2f} cores on average); "
        f"{w.cpu * 1e6 / max(len(receipted), 1):,.0f} µs per outbound message (accept + submit + receipt"
        + (" + webhooks)" if webhooks else ", no webhooks)")
    )
    if w.busy is not None:
        cpu.notes.append(w.busy.note())
    figures.append(cpu)
    if w.pg_cpu is not None:
        pg = Figure(f"{key}_pg", f"[{r}/s] PostgreSQL CPU per message", w.pg_cpu * 1e6 / handled, "µs",
                    against=f"{base}_pg")  # fmt: skip
        pg.notes.append(f"{w.pg_cpu:.1f} CPU-s in {w.backends} backends of Parley's database")
        figures.append(pg)
    figures.append(Figure(f"{key}_rss", f"[{r}/s] Peak RSS, parley serve", w.rss, "MiB", against=f"{base}_rss"))
    return figures


def _inbound(w: Window, key: str, against: str, data: dict[str, Any], inbound: list[Any]) -> list[Figure]:
    sent_at = {seq: at for seq, _, at, _ in data["mo_sent"]}
    seen: dict[str, float] = data["sse_seen"]
    stored, routed, shown = [], [], []
    for row in inbound:
        seq = seq_of(row.body)
        if seq is None or seq not in sent_at:
            continue
        stored.append(row.created_at.timestamp() - sent_at[seq])
        if row.conversation_id is not None:
            routed.append(row.updated_at.timestamp() - sent_at[seq])
        if row.id in seen:
            shown.append(seen[row.id] - sent_at[seq])
    r = f"{w.rate:g}"
    figure = _p99(f"{key}_inbound_p99", f"[{r}/s] Inbound p99: deliver_sm → routed", routed, against)
    figure.notes.append(
        f"stored (the message's created_at): p99 {percentile(stored, 0.99) * 1000:,.1f} ms, {_ms(stored)}"
    )
    figure.notes.append(f"to the agent's SSE event: p99 {percentile(shown, 0.99) * 1000:,.1f} ms, {_ms(shown)}")
    if data.get("sse_error") or data.get("mo_error"):
        figure.ok = False
        figure.notes.append(f"SSE: {data.get('sse_error')}; MO: {data.get('mo_error')}")
    return [figure]
