"""SMPP server (issue 13): submit_sm throughput of one ESME bind through Parley to the carrier SMSC.

    python -m bench --scenario smpp-server [--only sqlite] [--smpp-messages 5000] [--smpp-window 32]
    python -m bench.smpp_server [--messages 5000] [--window 32]   # the same, on SQLite only

One `parley serve` (with workers) listens on PARLEY_SMPP; one ESME bind (Parley's own SMPP client) submits
``smpp_messages`` texts as fast as Parley answers (each submit_sm_resp once its message is stored); the SMSC
simulator, as the carrier behind Parley, counts what arrives. Both run in the bench process. The figure is the
rate the ESME's submits were answered, against the rate they arrived at the carrier in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import TYPE_CHECKING

import structlog

from bench.figures import Figure
from bench.procs import cpu_seconds, free_port, peak_rss_mb
from parley.channels.smpp_pdu import BindTransceiver, DeliverSm, Status, SubmitSm
from parley.channels.smpp_session import SmppSession
from parley.testing.smsc import SmscSimulator

if TYPE_CHECKING:
    from bench.scenarios import Runner

ACCOUNT = '\n[[smpp_accounts]]\nsystem_id = "bench"\npassword = "bench"\nuser = "101"\nthroughput = 100000\n'


async def _ignore(_: DeliverSm) -> None:
    return None


async def smpp_server(runner: Runner) -> list[Figure]:
    from bench.scenarios import PROVISIONING  # here: bench.scenarios runs this scenario

    o = runner.options
    messages = o.smpp_messages
    url = await runner.backend.create("smpp_server")
    http, smpp = free_port(), free_port()
    env = {**runner.parley_env(url, http), "PARLEY_SMPP": f"127.0.0.1:{smpp}", "PARLEY_SMTP": ""}
    async with SmscSimulator(port=0, system_id="parley", password="secret", receipts=False) as smsc:
        await runner.provision(url, "smpp-server", smsc.port, PROVISIONING + ACCOUNT)
        server = runner.procs.python("serve-smpp-server", "parley", "serve", env=env)
        try:
            await runner.procs.wait_http(server, f"http://127.0.0.1:{http}/healthz")
            await smsc.wait_for(lambda: smsc.bound_sessions >= 1, timeout=30)
            esme = await SmppSession.connect(
                "127.0.0.1", smpp, BindTransceiver(system_id="bench", password="bench"), on_deliver=_ignore,
                window=o.smpp_window, response_timeout=30, enquire_link_interval=60, log=structlog.get_logger(),
            )  # fmt: skip
            runner.log(f"SMPP server: {messages:,} submit_sm from one ESME bind, window {o.smpp_window}")
            arrivals: list[float] = []
            cpu0 = cpu_seconds(server.pid) or 0.0
            start = time.perf_counter()

            async def one(i: int) -> int:
                pdu = SubmitSm(source_addr="15551230001", source_addr_ton=1, destination_addr=f"1555700{i:04d}",
                               dest_addr_ton=1, short_message=f"bench {i}".encode())  # fmt: skip
                return (await esme.request(pdu, windowed=True)).command_status

            async def watch() -> None:
                while len(arrivals) < messages:
                    await smsc.wait_for(lambda: len(smsc.received) > len(arrivals), timeout=120)
                    arrivals.extend([time.perf_counter()] * (len(smsc.received) - len(arrivals)))

            watcher = asyncio.create_task(watch())
            try:
                statuses = await asyncio.gather(*(one(i) for i in range(messages)))
                answered = time.perf_counter() - start
                await watcher
            finally:
                watcher.cancel()
            cpu = (cpu_seconds(server.pid) or 0.0) - cpu0
            rss = peak_rss_mb(server.pid)
            await esme.unbind(5)
        finally:
            runner.procs.stop(server)
    return figures(statuses.count(Status.ESME_ROK), messages, answered, [t - start for t in arrivals], rss, cpu)


def figures(
    ok: int, messages: int, answered: float, arrivals: list[float], rss: float | None, cpu: float
) -> list[Figure]:
    """The carrier-side rate (the baseline: what Parley's sending side moved) and the ESME's accepted rate."""
    first, last = arrivals[0], arrivals[-1]
    carrier = Figure("smpp_carrier", "Arrived at the carrier SMSC", (len(arrivals) - 1) / max(last - first, 1e-9),
                     "msg/s", against="")  # fmt: skip
    carrier.notes.append(
        f"{len(arrivals):,} arrived, the first {first:.2f} s and the last {last:.2f} s after the first submit; "
        f"end to end {len(arrivals) / last:,.0f} msg/s"
    )
    esme = Figure("smpp_esme", "submit_sm answered OK, one ESME bind", ok / answered, "msg/s", against="smpp_carrier")
    esme.notes.append(
        f"{ok:,} of {messages:,} answered OK in {answered:.2f} s; serve CPU {cpu * 1e6 / max(messages, 1):.0f} "
        f"µs/message"
    )
    esme.ok = carrier.ok = ok == messages == len(arrivals)
    return [carrier, esme, Figure("rss_serve_smpp", "Peak RSS, parley serve (SMPP server)", rss or 0.0, "MiB",
                                  against="")]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.smpp_server", description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--window", type=int, default=32)
    args = parser.parse_args()
    from bench.__main__ import main as bench

    argv = ["--scenario", "smpp-server", "--only", "sqlite", "--smpp-messages", str(args.messages)]
    sys.exit(bench([*argv, "--smpp-window", str(args.window)]))


if __name__ == "__main__":
    main()
