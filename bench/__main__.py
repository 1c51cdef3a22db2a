"""`make bench` = `python -m bench`: Parley against a same-run baseline, on SQLite and PostgreSQL.

python -m bench                    # every scenario, both backends (6-8 minutes)
python -m bench --quick            # shorter windows, fewer messages, 100,000-row campaign (~4 minutes)
python -m bench --only sqlite      # or --only postgres
python -m bench --scenario inbound --scenario console  # baseline, accept, e2e, inbound, campaign, takeover, console
python -m bench --scenario takeover   # a worker killed -9 holding 1,800 claimed messages: time until another sent them
python -m bench --scenario uploads    # Wildix p99 while 20 clients upload 3 MB files, against it without them
python -m bench --scenario webhooks   # webhook delivery rate and lag under a 1,000 msg/s inbound burst
python -m bench --scenario smpp-server  # submit_sm of one ESME bind through Parley, against the carrier's rate
python -m bench --scenario sustained  # not in the default run: 250, 500, 1,000 msg/s for 60 s, receipts trickling in
python -m bench --duration 10 --warmup 2 --connections 50 --markdown
python -m bench.webhook_sender        # the webhook sender alone: CPU per delivery against the POSTs alone
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import sqlite3
import sys
import tempfile
from pathlib import Path
from types import FrameType

from bench.console import console
from bench.databases import DEFAULT_PG, Backend, PostgresBackend, SqliteBackend
from bench.figures import SCENARIOS
from bench.procs import Procs
from bench.report import markdown_table, summary, text_table
from bench.scenarios import Figure, Options, Runner

ALL_SCENARIOS = (*SCENARIOS, "console")
ON_REQUEST = ("sustained",)  # only with --scenario: minutes per backend (bench/sustained.py)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s windows and fewer end-to-end messages")
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="one backend only")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=(*ALL_SCENARIOS, *ON_REQUEST),
        help="run only this scenario (repeatable; default: all)",
    )
    parser.add_argument("--duration", type=float, help="seconds measured per load test (default 5, quick 2)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up before measuring (default 1, quick 0.5)")
    parser.add_argument("--connections", type=int, default=50, help="concurrent keep-alive connections")
    parser.add_argument("--messages", type=int, help="messages preloaded for the instant-SMSC end-to-end run")
    parser.add_argument("--delayed-messages", type=int, help="messages preloaded for the 20 ms SMSC run")
    parser.add_argument("--inbound-rate", type=float, default=500.0, help="inbound deliver_sm a second")
    parser.add_argument("--inbound-seconds", type=float, help="seconds of inbound load (default 10, quick 4)")
    parser.add_argument("--campaign-rows", type=int, help="campaign CSV rows (default 1,000,000, quick 100,000)")
    parser.add_argument("--campaign-seconds", type=float, help="seconds the campaign's sending is watched (20; 10)")
    parser.add_argument("--webhook-rate", type=float, default=1000.0, help="inbound msg/s of the webhooks burst")
    parser.add_argument("--webhook-seconds", type=float, help="seconds of the webhooks burst (default 10, quick 4)")
    parser.add_argument("--smpp-messages", type=int, help="submit_sm of the ESME bind (default 5,000, quick 2,000)")
    parser.add_argument("--smpp-window", type=int, default=32, help="the ESME bind's window")
    parser.add_argument("--sustained-rates", help="sustained: outbound msg/s offered, comma-separated (250,500,1000)")
    parser.add_argument("--sustained-seconds", type=float, help="sustained: seconds of load per rate (60, quick 10)")
    parser.add_argument("--sustained-mo-rate", type=float, default=100.0, help="sustained: MO msg/s alongside (100)")
    parser.add_argument(
        "--sustained-no-webhooks", action="store_true", help="sustained: no webhook endpoint (the path without them)"
    )
    parser.add_argument("--pg-url", default=os.environ.get("PARLEY_TEST_PG_URL", DEFAULT_PG))
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, SQLite files)")
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace) -> Options:
    quick = args.quick
    return Options(
        warmup=args.warmup if args.warmup is not None else (0.5 if quick else 1.0),
        duration=args.duration if args.duration is not None else (2.0 if quick else 5.0),
        connections=args.connections,
        e2e_instant=args.messages or (4_000 if quick else 20_000),
        e2e_delayed=args.delayed_messages or (2_000 if quick else 10_000),
        scenarios=tuple(args.scenario or ALL_SCENARIOS),
        inbound_rate=args.inbound_rate,
        inbound_seconds=args.inbound_seconds or (4.0 if quick else 10.0),
        campaign_rows=args.campaign_rows or (100_000 if quick else 1_000_000),
        campaign_seconds=args.campaign_seconds or (10.0 if quick else 20.0),
        webhook_rate=args.webhook_rate,
        webhook_seconds=args.webhook_seconds or (4.0 if quick else 10.0),
        smpp_messages=args.smpp_messages or (2_000 if quick else 5_000),
        smpp_window=args.smpp_window,
        sustained_rates=tuple(float(r) for r in (args.sustained_rates or "250,500,1000").split(",")),
        sustained_seconds=args.sustained_seconds or (10.0 if quick else 60.0),
        sustained_inbound_rate=args.sustained_mo_rate,
        sustained_webhooks=not args.sustained_no_webhooks,
    )


async def machine(backends: list[Backend]) -> str:
    parts = [
        f"{os.cpu_count()} CPUs ({platform.machine()})",
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
    ]
    for backend in backends:
        if isinstance(backend, PostgresBackend):
            parts.append(f"PostgreSQL {await backend.version()}")
    return ", ".join(parts)


async def run(args: argparse.Namespace, workdir: Path, procs: Procs, backends: list[Backend]) -> int:
    options = options_from(args)
    print(f"machine: {await machine(backends)}", flush=True)
    print(
        f"load: {options.connections} connections, {options.warmup:g} s warm-up + {options.duration:g} s measured; "
        f"end to end: {options.e2e_instant:,} messages (instant SMSC), "
        f"{options.e2e_delayed:,} ({options.delay * 1000:g} ms SMSC); inbound: {options.inbound_rate:g} msg/s for "
        f"{options.inbound_seconds:g} s; campaign: {options.campaign_rows:,} rows; "
        f"scenarios: {', '.join(options.scenarios)}",
        flush=True,
    )
    failed = 0
    for backend in backends:
        print(f"\nrunning on {backend.name} …", file=sys.stderr, flush=True)
        figures: list[Figure] = []
        try:
            runner = Runner(backend, procs, workdir, options)
            figures, failures = await runner.run_all()
            if "console" in options.scenarios:  # bench/console.py: the console's pages at 100,000 messages
                try:
                    figures += await console(runner)
                except Exception as exc:
                    failures.append(f"console: {exc}")
        except Exception as exc:  # e.g. PostgreSQL is not reachable
            failures = [str(exc)]
        finally:
            procs.close()
        for failure in failures:
            failed += 1
            print(f"\n{backend.name}: FAILED {failure}", flush=True)
        if figures:
            title = f"{backend.name} {await backend.version()}"
            table = markdown_table if args.markdown else text_table
            print("\n" + table(title, figures, postgres=isinstance(backend, PostgresBackend)), flush=True)
            print("\n" + summary(figures), flush=True)
    print(
        "\nreference (from the issue): the best-known open-source Python gateway accepts ~1,500 requests/s, "
        "moves ~580 msg/s end to end and ~43 msg/s per bind against a 20 ms SMSC. Targets on PostgreSQL: "
        "≥1,500 msg/s accepted in 1-number requests, ≥10,000 msg/s in 100-number requests, "
        "≥1,000 msg/s end to end, ≥400 msg/s per bind against the 20 ms SMSC. Issue 3: inbound at 500 msg/s "
        "sustained with p99 < 50 ms to stored-and-routed. Issue 4: a 1,000,000-recipient campaign from CSV to queue "
        "with peak RSS < 250 MB while the API stays responsive.",
        flush=True,
    )
    return 1 if failed else 0


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-"))
    procs = Procs(workdir)
    backends: list[Backend] = []
    if args.only in (None, "sqlite"):
        backends.append(SqliteBackend(workdir))
    if args.only in (None, "postgres"):
        backends.append(PostgresBackend(args.pg_url))
    try:
        return asyncio.run(run(args, workdir, procs, backends))
    finally:
        procs.close()
        for backend in backends:
            try:
                asyncio.run(backend.drop_all())
            except Exception as exc:
                print(f"could not drop the {backend.name} databases: {exc}", file=sys.stderr)
        if args.keep:
            print(f"logs and files kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
