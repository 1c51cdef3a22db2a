"""The webhook sender alone: CPU per delivery (claim → sign → POST → record) against the POST by itself.

    python -m bench.webhook_sender [--deliveries 10000] [--database postgresql://postgres@127.0.0.1:5432/test]
                                   [--profile FILE]

Under load every status change of every message is a webhook delivery (issue 15: five per message with one
endpoint), so the sender's cost per delivery is paid thousands of times a second. This measures it apart from the
rest of the path: a fresh database (PostgreSQL, or SQLite with ``--database sqlite``) holds ``--deliveries`` pending
deliveries of one endpoint (five events per message, as the load makes them), and `WebhookSender.run` sends them all
to a keep-alive receiver in another process, in this process. The baseline of the same run is what no sender can
avoid: the same number of POSTs of the same bodies through the same aiohttp client, as many in flight as the sender
allows. Figures: this process's CPU per delivery (and PostgreSQL's backends', read from /proc), as ratios to it.
``--profile FILE`` writes a cProfile of the sender's run (`python -m pstats FILE`).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import sqlalchemy as sa
import uvloop

from bench.databases import DEFAULT_PG, PostgresBackend
from bench.inbound import PROVISIONING
from bench.procs import free_port
from bench.sustained import PostgresCpu
from bench.webhook_client import HEADERS, RECEIVER, own_cpu
from parley.bootstrap import build, utcnow
from parley.core import webhook_events as ev
from parley.services.webhook_sender import IN_FLIGHT, WebhookSender
from parley.settings import Settings
from parley.store import webhooks as store
from parley.store.tables import webhook_deliveries

EVENTS = ("queued", "submitting", "sent", "delivered", "delivered")  # five a message, as under load
WEBHOOKS = '\n[webhooks]\nallow_private = ["127.0.0.0/8"]\n'


def _rows(endpoint_id: str, count: int, now: datetime) -> list[dict[str, object]]:
    rows = []
    messages = -(-count // len(EVENTS))
    for i in range(count):  # a message's events apart, as in a load (others' events come between them)
        message, status = f"m{i % messages:08d}", EVENTS[i // messages]
        data = {"id": message, "direction": "out", "from": "+15551230001", "to": "+15557654321", "status": status,
                "text": "Your appointment is confirmed for Tuesday.", "segments": 1, "user": "101"}  # fmt: skip
        event_id = f"evt_{i:024d}"
        rows.append({"event_id": event_id, "event_type": ev.MESSAGE_STATUS, "subject": message,
                     "endpoint_id": endpoint_id, "format": "parley", "body": ev.envelope(event_id, ev.MESSAGE_STATUS,
                     now, data), "state": store.PENDING, "attempts": 0, "due_at": now, "created_at": now})  # fmt: skip
    return rows


async def _apply(url: str, workdir: Path) -> None:
    path = workdir / "webhook-sender.toml"
    path.write_text(PROVISIONING.format(port=free_port()) + WEBHOOKS)
    env = {"PARLEY_DATABASE_URL": url, "PARLEY_SECRET": "bench-secret"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "parley", "apply", str(path), env=env)
    if await proc.wait() != 0:
        raise RuntimeError("parley apply failed")


async def _baseline(url: str, bodies: list[str]) -> float:
    """CPU seconds of POSTing every body through aiohttp, ``IN_FLIGHT`` at a time."""
    slots = asyncio.Semaphore(IN_FLIGHT)
    async with aiohttp.ClientSession(  # configured as `services.webhook_post` configures its client
        connector=aiohttp.TCPConnector(limit=100),
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        trust_env=False,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
    ) as session:

        async def post(body: str) -> None:
            async with slots, session.post(url, data=body.encode(), headers=HEADERS) as answer:
                await answer.content.read(64 * 1024)

        await asyncio.gather(*(post(b) for b in bodies[:200]))  # warm up: connections open
        cpu = own_cpu()
        await asyncio.gather(*(post(b) for b in bodies))
        return own_cpu() - cpu


async def run(deliveries: int, database: str, profile: str | None) -> list[str]:
    backend = PostgresBackend(database) if database != "sqlite" else None
    with tempfile.TemporaryDirectory() as tmp:
        url = await backend.create("webhook_sender") if backend else f"sqlite+aiosqlite:///{tmp}/sender.db"
        port = free_port()
        receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
        try:
            await _apply(url, Path(tmp))
            parley = build(Settings(database_url=url, smtp="", secret="bench-secret"))
            admin = await parley.cache.user("101")
            assert admin is not None
            endpoint = await parley.webhooks.create(admin, f"http://127.0.0.1:{port}/hook", [ev.MESSAGE_STATUS])
            rows = _rows(endpoint["id"], deliveries, datetime.now(UTC))
            base = await _baseline(f"http://127.0.0.1:{port}/hook", [str(r["body"]) for r in rows])
            async with parley.db.write() as conn:
                await store.add_deliveries(conn, rows)
            pg = PostgresCpu(url) if backend else None
            sender = WebhookSender(parley.db, utcnow, parley.webhooks)
            pending = sa.select(sa.func.count()).where(webhook_deliveries.c.state == store.PENDING)
            if pg:
                await pg.begin()
            profiler = cProfile.Profile() if profile else None
            cpu, started = own_cpu(), time.perf_counter()
            if profiler:
                profiler.enable()
            running = asyncio.create_task(sender.run())
            while True:
                await asyncio.sleep(0.2)
                async with parley.db.read() as conn:
                    if not await conn.scalar(pending):
                        break
            if profiler and profile:
                profiler.disable()
                profiler.dump_stats(profile)
            used, took = own_cpu() - cpu, time.perf_counter() - started
            pg_used = (await pg.used())[0] if pg else None
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await sender.close()
            await parley.close()
        finally:
            receiver.kill()
            receiver.wait()
            if backend:
                await backend.drop_all()
    per = 1e6 / deliveries
    lines = [f"{'':<44} {'CPU per delivery':>16} {'× baseline':>11}"]
    lines.append(f"{'baseline: the POSTs alone (aiohttp)':<44} {base * per:>13,.0f} µs {1:>10.2f}×")
    lines.append(f"{'WebhookSender.run (this process)':<44} {used * per:>13,.0f} µs {used / base:>10.2f}×")
    if pg_used is not None:
        lines.append(f"{'PostgreSQL backends':<44} {pg_used * per:>13,.0f} µs {pg_used / base:>10.2f}×")
    lines.append(f"{deliveries:,} deliveries in {took:.1f} s: {deliveries / took:,.0f} a second")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=10_000, help="pending deliveries to send (default 10,000)")
    parser.add_argument("--database", default=DEFAULT_PG, help="PostgreSQL admin URL, or 'sqlite'")
    parser.add_argument("--profile", help="write a cProfile of the sender's run to this file")
    args = parser.parse_args(argv)
    print(f"{args.deliveries:,} webhook deliveries, one endpoint, {IN_FLIGHT} in flight, uvloop", flush=True)
    print("\n".join(uvloop.run(run(args.deliveries, args.database, args.profile))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
