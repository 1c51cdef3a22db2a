"""The far side of the sustained scenario (issue 15): an SMSC whose receipts trickle in, MO traffic, an agent's SSE
stream and a webhook receiver, in one process so that they share one clock.

    python -m bench.sustained_driver --smsc-port 2775 --http-port 8080 --hook-port 9000 --mo-rate 100 \
        --mo-seconds 60 --receipt-delay 0.5 5.0 --out sustained.json

- The SMSC answers each submit_sm at once and sends its delivery receipt alone, a random 0.5–5 s later
  (`SmscSimulator(receipt_delay=…)`); it records when each submit_sm arrived and when each receipt was written,
  by the SMSC's message id.
- It waits for Parley to bind and for the SSE stream (GET /api/v2/events) to open, then prints ``ready``; on
  SIGUSR1 it sends MO messages (deliver_sm) at ``--mo-rate`` for ``--mo-seconds`` (as bench.inbound_driver does).
- The webhook receiver (``POST http://127.0.0.1:<hook-port>/hook``) answers 200 at once and records when each
  `message.status` delivery arrived, by message id and status.
- On SIGTERM it writes everything to ``--out`` (wall-clock seconds, time.time) and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time
from typing import Any

from bench.inbound_driver import Agent, Smsc, pump, run_to_file
from parley.channels.smpp_pdu import SubmitSm
from parley.testing.smsc import ReceivedSubmit, _Connection


class TricklingSmsc(Smsc):
    """Receipts one by one after a random delay; when each submit_sm came and each receipt left."""

    def __init__(self, port: int, receipt_delay: tuple[float, float]) -> None:
        super().__init__(port)
        self.receipts, self.receipt_delay = True, receipt_delay
        self.submitted: dict[str, float] = {}  # SMSC message id → when its submit_sm arrived
        self.receipted: dict[str, float] = {}  # SMSC message id → when its receipt was written

    def _record(self, conn: _Connection, pdu: SubmitSm) -> ReceivedSubmit:
        submit = super()._record(conn, pdu)
        self.submitted[submit.message_id] = time.time()
        self.received.clear()  # kept by the simulator for tests; here only the times matter
        return submit

    def _send_receipt(self, conn: _Connection, submit: ReceivedSubmit) -> None:
        super()._send_receipt(conn, submit)
        self.receipted[submit.message_id] = time.time()


class HookReceiver(asyncio.Protocol):
    """HTTP/1.1 keep-alive: reads each request by its Content-Length and answers 200 with an empty body."""

    def __init__(self, seen: dict[str, float], counts: dict[str, int]) -> None:
        self.seen, self.counts = seen, counts
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body, self.buffer = self.buffer[end + 4 : end + 4 + length], self.buffer[end + 4 + length :]
            self.took(body)
            if self.transport is not None:
                self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")

    def took(self, body: bytes) -> None:
        now = time.time()
        try:
            event = json.loads(body)
        except ValueError:
            self.counts["unreadable"] = self.counts.get("unreadable", 0) + 1
            return
        kind = str(event.get("type"))
        self.counts[kind] = self.counts.get(kind, 0) + 1
        data = event.get("data") or {}
        if kind == "message.status":
            self.seen.setdefault(f"{data.get('id')} {data.get('status')}", now)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    go, stop = asyncio.Event(), asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, go.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    hooks: dict[str, float] = {}
    counts: dict[str, int] = {}
    hook_server = await loop.create_server(lambda: HookReceiver(hooks, counts), "127.0.0.1", args.hook_port)
    user, _, password = args.auth.partition(":")
    agent = Agent(f"http://127.0.0.1:{args.http_port}/api/v2/events", (user, password), timeout=args.timeout)
    smsc = TricklingSmsc(args.smsc_port, (args.receipt_delay[0], args.receipt_delay[1]))
    sent: list[tuple[int, int, float]] = []
    pump_error: str | None = None
    async with smsc:
        print(f"listening on {smsc.port}", flush=True)
        await smsc.wait_for(lambda: smsc.receiving() is not None, timeout=args.timeout)
        listening = asyncio.create_task(agent.run())
        try:
            await asyncio.wait_for(agent.connected.wait(), args.timeout)
            if agent.error:
                raise RuntimeError(f"the SSE stream failed: {agent.error}")
            print("ready", flush=True)
            await asyncio.wait({asyncio.create_task(go.wait()), asyncio.create_task(stop.wait())},
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
            if go.is_set() and not stop.is_set():
                mo = argparse.Namespace(
                    rate=args.mo_rate, seconds=args.mo_seconds, customers=args.customers, to=args.to
                )
                try:
                    sent = await pump(smsc, mo)
                except RuntimeError as exc:
                    pump_error = str(exc)
            await stop.wait()
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
            hook_server.close()
    return {
        "submitted": smsc.submitted,
        "receipted": smsc.receipted,
        "mo_sent": [[i, pdu_seq, at, smsc.answers.get(pdu_seq, (None, 0))[0]] for i, pdu_seq, at in sent],
        "mo_errors": sum(1 for _, status in smsc.answers.values() if status),
        "mo_error": pump_error,
        "sse_seen": agent.seen,
        "sse_error": agent.error,
        "sse_attempts": agent.attempts,
        "hooks": hooks,
        "hook_counts": counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description="The SMSC, MO load, SSE agent and webhook receiver of the sustained scenario."
    )
    parser.add_argument("--smsc-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--hook-port", type=int, required=True)
    parser.add_argument("--mo-rate", type=float, default=100.0, help="MO messages a second")
    parser.add_argument("--mo-seconds", type=float, default=60.0)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--receipt-delay", type=float, nargs=2, default=(0.5, 5.0), metavar=("LOW", "HIGH"))
    parser.add_argument("--to", default="+15551230001", help="the company number MO messages go to")
    parser.add_argument("--auth", default="101:sms101api", help="the agent whose SSE stream is read")
    parser.add_argument("--timeout", type=float, default=60.0, help="longest wait for the bind and the SSE stream")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    run_to_file(run, args)


if __name__ == "__main__":
    main()
