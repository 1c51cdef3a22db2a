"""Console at scale (issue 5 item 6): 10,000 conversations and 100,000 messages, then the console's pages.

The database is seeded with bulk inserts (COPY on PostgreSQL), `parley serve --no-workers` is started on it, one
signed-in browser-like client asks for each page in turn, and p50/p99 are reported against GET /healthz on the
same server (the cost of a request that touches nothing). The CSV export of all 100,000 rows is timed and the
server's peak RSS is compared with its peak before the export.
"""

from __future__ import annotations

import random
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import sqlalchemy as sa

from bench.figures import Figure, percentile
from bench.procs import free_port, peak_rss_mb
from bench.scenarios import PROVISIONING
from parley.store.bulk import insert_rows
from parley.store.db import Database
from parley.store.tables import conversations, messages, participants, services, usage, users

if TYPE_CHECKING:
    from bench.scenarios import Runner

CONVERSATIONS = 10_000
MESSAGES = 100_000
AGENTS = 10  # extensions 201..210, each in a tenth of the conversations
SUPPORT = "+15551230001"
DAYS = 28  # the messages are spread over the last four weeks
BATCH = 10_000
ALICE = ("101", "sms101api")
STATUSES_OUT = ("delivered",) * 8 + ("sent", "failed")

AGENT_USERS = "".join(
    f'\n[[users]]\nextension = "{201 + n}"\nname = "Agent {n + 1}"\npassword = "agent-secret"\nlicense = "business"\n'
    for n in range(AGENTS)
)


def _id(at: datetime, rng: random.Random) -> str:
    """A message id as parley.store.ids makes them: creation milliseconds, then random bits."""
    return f"{int(at.timestamp() * 1000):012x}{rng.getrandbits(32):08x}"


async def seed(url: str) -> float:
    """Conversations, participants and messages in bulk; returns the seconds it took."""
    started = time.perf_counter()
    rng = random.Random(5)
    now = datetime.now(UTC)
    db = Database(url)
    try:
        async with db.write() as conn:
            ids = {r.extension: r.id for r in (await conn.execute(sa.select(users.c.id, users.c.extension))).all()}
            service_id = await conn.scalar(sa.select(services.c.id).where(services.c.name == "Support"))
            agents = [ids[str(201 + n)] for n in range(AGENTS)]
            threads: list[dict[str, Any]] = []
            members: list[dict[str, Any]] = []
            for n in range(CONVERSATIONS):
                customer = f"+1555{3_000_000 + n:07d}"
                cid = f"c{n:011d}{secrets.token_hex(6)}"
                threads.append({
                    "id": cid, "thread_key": f"{SUPPORT}|{customer}|{service_id}", "company_number": SUPPORT,
                    "external_number": customer, "service_id": service_id, "title": customer, "assignee_id": None,
                    "unrouted": False, "created_at": now - timedelta(days=DAYS), "updated_at": now,
                    "last_message_at": None, "last_inbound_at": None, "last_reply_at": None,
                })  # fmt: skip
                for uid in (ids["101"], agents[n % AGENTS]):
                    members.append({
                        "conversation_id": cid, "member": f"u:{uid}", "user_id": uid, "bot": None, "active": True,
                        "removed_by_agent": False, "joined_at": now - timedelta(days=DAYS), "left_at": None,
                        "last_read_at": None,
                    })  # fmt: skip
            rows: list[dict[str, Any]] = []
            last: dict[str, dict[str, datetime]] = {}
            for n in range(MESSAGES):
                thread = threads[n % CONVERSATIONS]
                at = now - timedelta(seconds=rng.uniform(60, DAYS * 86_400))
                inbound = n % 2 == 0
                agent = agents[(n % CONVERSATIONS) % AGENTS]
                charged = not inbound and rng.random() < 0.3
                rows.append({
                    "id": _id(at, rng), "direction": "in" if inbound else "out", "user_id": None if inbound else agent,
                    "sender": thread["external_number"] if inbound else SUPPORT,
                    "recipient": SUPPORT if inbound else thread["external_number"],
                    "body": f"Message {n}: your order {rng.randrange(10**6):06d} is on its way.",
                    "status": "received" if inbound else rng.choice(STATUSES_OUT), "segments": 1, "encoding": "gsm7",
                    "gsm": None, "transport": "carrier", "error": None, "charge": "0.0079" if charged else None,
                    "currency": "USD" if charged else None, "source": "smpp" if inbound else "conversation",
                    "conversation_id": thread["id"], "bot": None, "carrier_id": None, "campaign_id": None,
                    "send_at": None, "created_at": at, "updated_at": at,
                })  # fmt: skip
                seen = last.setdefault(thread["id"], {})
                key = "last_inbound_at" if inbound else "last_reply_at"
                seen[key] = max(seen.get(key, at), at)
                seen["last_message_at"] = max(seen.get("last_message_at", at), at)
            for thread in threads:
                thread.update(last.get(thread["id"], {}))
                thread["updated_at"] = thread["last_message_at"] or thread["updated_at"]
            for start in range(0, CONVERSATIONS, BATCH):
                await insert_rows(conn, conversations, threads[start : start + BATCH])
            for start in range(0, len(members), BATCH):
                await insert_rows(conn, participants, members[start : start + BATCH])
            for start in range(0, MESSAGES, BATCH):
                await insert_rows(conn, messages, rows[start : start + BATCH])
            month = now.strftime("%Y-%m")
            await insert_rows(conn, usage, [{"user_id": uid, "month": month, "segments": 4_000} for uid in agents])
        if db.is_postgres:
            async with db.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
                await conn.execute(sa.text("ANALYZE"))
        else:
            async with db.write() as conn:
                await conn.execute(sa.text("ANALYZE"))
    finally:
        await db.close()
    return time.perf_counter() - started


async def sign_in(client: httpx.AsyncClient, who: tuple[str, str]) -> None:
    await client.get("/login")
    form = {"extension": who[0], "password": who[1], "csrf": client.cookies.get("parley_csrf", ""), "next": "/"}
    answer = await client.post("/login", data=form)
    if answer.status_code != 303 or "parley_session" not in client.cookies:
        raise RuntimeError(f"sign-in refused: {answer.status_code} {answer.text[:200]}")


async def timings(client: httpx.AsyncClient, path: str, count: int, warmup: int = 3) -> list[float]:
    """``count`` sequential GETs after ``warmup`` unmeasured ones; seconds each."""
    spent = []
    for n in range(warmup + count):
        started = time.perf_counter()
        answer = await client.get(path)
        elapsed = time.perf_counter() - started
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:200]}")
        if n >= warmup:
            spent.append(elapsed)
    return spent


def latency_figures(key: str, label: str, spent: list[float], *, baseline: bool = False) -> list[Figure]:
    p50, p99 = percentile(spent, 0.5) * 1000, percentile(spent, 0.99) * 1000
    return [
        Figure(f"{key}_p50", f"{label} p50", p50, "ms", against="" if baseline else "console_healthz_p50"),
        Figure(f"{key}_p99", f"{label} p99", p99, "ms", against="" if baseline else "console_healthz_p99"),
    ]


async def console(runner: Runner) -> list[Figure]:
    url = await runner.backend.create("console")
    await runner.provision(url, "console", free_port(), template=PROVISIONING + AGENT_USERS)
    runner.log(f"console: seeding {CONVERSATIONS:,} conversations and {MESSAGES:,} messages")
    seconds = await seed(url)
    runner.log(f"console: seeded in {seconds:.1f} s; serving")
    server, port = await runner.serve(url, "console")
    count = 20 if runner.options.duration < 5 else 50
    today = datetime.now(UTC).date()
    everything = urlencode(
        {"period": "custom", "first": str(today - timedelta(days=DAYS + 1)), "last": str(today + timedelta(days=1))}
    )
    figures: list[Figure] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            await sign_in(client, ALICE)
            pages = [
                ("console_healthz", "Baseline: GET /healthz", "/healthz"),
                ("console_inbox", "GET /inbox (admin, all)", "/inbox"),
                ("console_inbox_list", "GET /inbox/list fragment", "/inbox/list"),
                ("console_stats", "GET /stats (this month, everyone)", "/stats"),
                ("console_report", "GET /stats/messages (first page)", "/stats/messages"),
                ("console_report_status", "GET /stats/messages?status=failed", "/stats/messages?status=failed"),
            ]
            for key, label, path in pages:
                runner.log(f"console: {label}")
                spent = await timings(client, path, count)
                figures += latency_figures(key, label, spent, baseline=key == "console_healthz")
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as agent:
                await sign_in(agent, ("201", "agent-secret"))
                figures += latency_figures(
                    "console_stats_agent", "GET /stats (an agent)", await timings(agent, "/stats", count)
                )
            before = peak_rss_mb(server.pid) or 0.0
            runner.log("console: CSV export of every message")
            started = time.perf_counter()
            rows, size = -1, 0  # the header is not a message
            async with client.stream("GET", f"/stats/messages.csv?{everything}") as answer:
                async for line in answer.aiter_lines():
                    rows += 1
                    size += len(line) + 1
            elapsed = time.perf_counter() - started
            after = peak_rss_mb(server.pid) or 0.0
    finally:
        runner.procs.stop(server)
    export = Figure("console_csv", f"CSV export, {rows:,} rows", elapsed, "s", against="")
    export.notes.append(f"{rows / elapsed:,.0f} rows/s, {size / 2**20:.1f} MiB")
    if rows != MESSAGES:
        export.ok = False
        export.notes.append(f"{rows:,} rows for {MESSAGES:,} messages")
    rss_before = Figure("rss_console_before", "Peak RSS, parley serve, before the export", before, "MiB", against="")
    rss_after = Figure("rss_console_export", "Peak RSS, parley serve, after the export", after, "MiB")
    rss_after.against = "rss_console_before"
    figures += [export, rss_before, rss_after]
    return figures
