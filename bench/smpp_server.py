"""`python -m bench.smpp_server`: submit_sm throughput of one ESME bind through Parley to the carrier SMSC.

One `parley serve` (with workers, SQLite) listens on PARLEY_SMPP; one ESME bind (Parley's own SMPP client, a
window of 32) submits ``--messages`` texts as fast as Parley answers; the SMSC simulator, as the carrier, counts
what arrives. Printed: the rate the ESME's submits were answered (each answer after the message is on disk),
the rate they arrived at the carrier, and the ratio, all from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import structlog

from bench.procs import Procs, free_port
from bench.scenarios import PROVISIONING
from parley.channels.smpp_pdu import BindTransceiver, DeliverSm, Status, SubmitSm
from parley.channels.smpp_session import SmppSession
from parley.testing.smsc import SmscSimulator

ACCOUNT = '\n[[smpp_accounts]]\nsystem_id = "bench"\npassword = "bench"\nuser = "101"\nthroughput = 100000\n'


async def run(messages: int, window: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-smpp-"))
    procs = Procs(workdir)
    url = f"sqlite+aiosqlite:///{workdir}/parley.db"
    http, smpp = free_port(), free_port()
    env = {"PARLEY_DATABASE_URL": url, "PARLEY_LOG_LEVEL": "warning", "PARLEY_HTTP": f"127.0.0.1:{http}",
           "PARLEY_SMPP": f"127.0.0.1:{smpp}", "PARLEY_SMTP": ""}  # fmt: skip
    async with SmscSimulator(port=0, system_id="parley", password="secret", receipts=False) as smsc:
        (workdir / "p.toml").write_text(PROVISIONING.format(port=smsc.port) + ACCOUNT)
        applied = procs.python("apply", "parley", "apply", str(workdir / "p.toml"), env=env)
        if await asyncio.to_thread(applied.wait, 120):
            raise RuntimeError(procs.log_tail(applied))
        server = procs.python("serve", "parley", "serve", env=env)
        try:
            await procs.wait_http(server, f"http://127.0.0.1:{http}/healthz")
            await smsc.wait_for(lambda: smsc.bound_sessions >= 1, timeout=30)

            async def ignore(_: DeliverSm) -> None:
                return None

            esme = await SmppSession.connect(
                "127.0.0.1", smpp, BindTransceiver(system_id="bench", password="bench"), on_deliver=ignore,
                window=window, response_timeout=30, enquire_link_interval=60, log=structlog.get_logger(),
            )  # fmt: skip
            arrivals: list[float] = []
            start = time.perf_counter()

            async def one(i: int) -> int:
                pdu = SubmitSm(source_addr="15551230001", source_addr_ton=1, destination_addr=f"1555700{i:04d}",
                               dest_addr_ton=1, short_message=f"bench {i}".encode())  # fmt: skip
                return (await esme.request(pdu, windowed=True)).command_status

            async def watch() -> None:
                while len(smsc.received) < messages:
                    await smsc.wait_for(lambda: len(smsc.received) > len(arrivals), timeout=120)
                    arrivals.extend([time.perf_counter()] * (len(smsc.received) - len(arrivals)))

            watcher = asyncio.create_task(watch())
            statuses = await asyncio.gather(*(one(i) for i in range(messages)))
            answered = time.perf_counter() - start
            await watcher
            await esme.unbind(5)
        finally:
            procs.stop(server)
            procs.close()
    ok = statuses.count(Status.ESME_ROK)
    first, last = arrivals[0] - start, arrivals[-1] - start
    carrier = (messages - 1) / max(last - first, 1e-9)
    print(f"{ok:,} of {messages:,} submit_sm answered OK in {answered:.2f} s: {ok / answered:,.0f}/s (one bind)")
    print(f"arrived at the carrier SMSC: first after {first:.2f} s, last after {last:.2f} s: {carrier:,.0f}/s")
    print(f"end to end: {messages / last:,.0f} msg/s; ESME rate / carrier-side rate = {ok / answered / carrier:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.smpp_server", description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--window", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(run(args.messages, args.window))


if __name__ == "__main__":
    main()
