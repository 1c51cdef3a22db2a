"""An SMSC simulator speaking SMPP 3.4 over real TCP, for tests and for trying Parley by hand.

    python -m parley.testing.smsc --port 2775      # prints every message and answers with DELIVRD receipts

In tests::

    async with SmscSimulator(port=0, delay=0.02) as smsc:
        channel = SmppChannel("t", "127.0.0.1", smsc.port, "parley", "secret", ...)
        ...
        await smsc.wait_for(lambda: len(smsc.received) == 3)

Each submit_sm is answered in its own task, so ``delay`` overlaps like a real SMSC's latency and a
client's window shows up in ``max_outstanding``. What happens to the next submits (``throttle_next``,
``fail_next``, ``disconnect_after``) is decided in arrival order. ``restart()`` drops the connections and
starts the message ids again from 0x1000, as a real SMSC's restart does.

``receipt_delay=(0.5, 5.0)`` sends each delivery receipt alone, a random 0.5–5 s after its submit_sm_resp, as a
real SMSC does (receipts then arrive one by one, in another order than the submits); ``receipts_sent`` counts them.

Here: the command line, and the names importers use. The simulator is `smsc_server.SmscSimulator`, on the
knobs and counters of `smsc_knobs`; the PDUs it keeps and writes are `smsc_pdus`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from parley.testing.smsc_knobs import _Connection
from parley.testing.smsc_pdus import ReceivedSubmit
from parley.testing.smsc_server import SmscSimulator

__all__ = ["ReceivedSubmit", "SmscSimulator", "_Connection", "main"]  # _Connection: the bench's simulators use it


async def _main(args: argparse.Namespace) -> None:
    smsc = SmscSimulator(
        args.host, args.port, system_id=args.system_id, password=args.password, delay=args.delay,
        receipt_stat=args.stat, echo=True,
    )  # fmt: skip
    async with smsc:
        print(f"SMSC simulator listening on {args.host}:{smsc.port} (Ctrl-C to stop)")
        print("To send an inbound SMS to Parley, type: FROM TO TEXT  (e.g. +15557654321 +15551230001 Hello)")
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:  # no terminal (or end of input): keep serving
                await asyncio.Event().wait()
            _send_typed(smsc, line)


def _send_typed(smsc: SmscSimulator, line: str) -> None:
    parts = line.strip().split(maxsplit=2)
    if len(parts) < 3:
        if parts:
            print("usage: FROM TO TEXT")
        return
    sent = smsc.send_mo(parts[0], parts[1], parts[2])
    print(f"-> {parts[0]} to {parts[1]}: {sent} part(s) sent to {smsc.bound_sessions} bound session(s)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="An SMPP 3.4 SMSC simulator that prints what it receives.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2775)
    parser.add_argument("--system-id", default=None, help="accept only this system_id")
    parser.add_argument("--password", default=None, help="accept only this password")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each submit_sm_resp")
    parser.add_argument("--stat", default="DELIVRD", help="the stat of every delivery receipt")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
