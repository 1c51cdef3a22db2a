"""Inbound load: an SMSC that pushes MO messages (deliver_sm) to Parley at a fixed rate, plus an agent's SSE client.

    python -m bench.inbound_driver --smsc-port 2775 --http-port 8080 --rate 500 --seconds 10 --customers 200 \
        --to +15551230001 --auth 101:sms101api --out inbound.json

It listens as an SMSC, waits for Parley to bind (transceiver) and for the SSE stream (GET /api/v2/events as
``--auth``) to connect, then sends ``rate × seconds`` one-part messages from ``customers`` distinct numbers, in
turn, on a fixed schedule. Each text carries its sequence number (``order 000123``). It records, in wall-clock
seconds (time.time, comparable with the timestamps Parley writes): when each deliver_sm was written, when its
deliver_sm_resp came back (Parley answers once the message is stored), and when a `message.created` event for
it reached the SSE client (after the routing transaction committed). The JSON goes to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from parley.channels.smpp_pdu import DC_DEFAULT, DeliverSm, DeliverSmResp, Pdu
from parley.core.numbers import to_smpp_address
from parley.core.text import encode_gsm7
from parley.testing.smsc import SmscSimulator, _Connection


def text_for(seq: int) -> str:
    return f"Hi, where is my order {seq:06d}? Thanks"


def seq_of(text: str) -> int | None:
    """The sequence number `text_for` put in a message body."""
    part = text.partition("order ")[2][:6]
    return int(part) if part.isdigit() else None


class Smsc(SmscSimulator):
    """The simulator, recording when each deliver_sm_resp arrives (by sequence number) and its status."""

    def __init__(self, port: int) -> None:
        super().__init__("127.0.0.1", port, receipts=False)
        self.answers: dict[int, tuple[float, int]] = {}

    def _dispatch(self, conn: _Connection, pdu: Pdu) -> None:
        if isinstance(pdu, DeliverSmResp):
            self.answers[pdu.sequence_number] = (time.time(), pdu.command_status)
        super()._dispatch(conn, pdu)

    def receiving(self) -> _Connection | None:
        return next((c for c in self._connections if c.receives), None)

    def send_one(self, conn: _Connection, sender: str, to: str, text: str) -> int:
        """One GSM 7-bit deliver_sm; returns its sequence number."""
        seq = next(conn.seq)
        src, src_ton, src_npi = to_smpp_address(sender)
        dst, dst_ton, dst_npi = to_smpp_address(to)
        conn.write(
            DeliverSm(
                sequence_number=seq,
                source_addr_ton=src_ton,
                source_addr_npi=src_npi,
                source_addr=src,
                dest_addr_ton=dst_ton,
                dest_addr_npi=dst_npi,
                destination_addr=dst,
                data_coding=DC_DEFAULT,
                short_message=encode_gsm7(text),
            )
        )
        return seq


class Agent:
    """An SSE client: when each message.created event arrived, by message id.

    Parley binds to the SMSC before its HTTP server listens, so the stream is opened only once GET /healthz
    answers 200, and opening it is retried (connection refused, 5xx) until ``timeout`` (issue 15 §5).
    """

    def __init__(self, url: str, auth: tuple[str, str], *, timeout: float = 60.0, retry_every: float = 0.2) -> None:
        self.url, self.auth = url, auth
        self.timeout, self.retry_every = timeout, retry_every
        self.seen: dict[str, float] = {}
        self.connected = asyncio.Event()
        self.error: str | None = None
        self.attempts = 0  # tries to open the stream
        self.refused = 0  # health checks that found no HTTP server or a non-200 answer

    async def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        async with httpx.AsyncClient(auth=self.auth, timeout=httpx.Timeout(30.0, read=None)) as client:
            while True:
                try:
                    await self._until_healthy(client, deadline)
                    await self._listen(client)
                    return
                except (httpx.TransportError, httpx.HTTPStatusError) as exc:
                    retry = not self.connected.is_set() and time.monotonic() < deadline
                    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code < 500:
                        retry = False  # 401, 403, 404: trying again will not help
                    if not retry:
                        self.error = f"{type(exc).__name__}: {exc}"
                        self.connected.set()
                        return
                    await asyncio.sleep(self.retry_every)
                except (httpx.HTTPError, ValueError) as exc:
                    self.error = f"{type(exc).__name__}: {exc}"
                    self.connected.set()
                    return

    async def _until_healthy(self, client: httpx.AsyncClient, deadline: float) -> None:
        """Wait until Parley answers HTTP: GET /healthz (same host and port as the stream) says 200."""
        health = httpx.URL(self.url).copy_with(path="/healthz", query=None)
        while True:
            try:
                if (await client.get(health, timeout=2.0)).status_code == 200:
                    return
            except httpx.TransportError:
                if time.monotonic() >= deadline:
                    raise
            self.refused += 1
            if time.monotonic() >= deadline:
                raise httpx.ConnectError(f"{health} did not answer 200 in {self.timeout:g} s")
            await asyncio.sleep(self.retry_every)

    async def _listen(self, client: httpx.AsyncClient) -> None:
        self.attempts += 1
        async with client.stream("GET", self.url) as answer:
            answer.raise_for_status()
            self.connected.set()
            event = ""
            async for line in answer.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "message.created":
                    message_id = json.loads(line[6:]).get("message_id")
                    if message_id and message_id not in self.seen:
                        self.seen[message_id] = time.time()


async def pump(smsc: Smsc, args: argparse.Namespace) -> list[tuple[int, int, float]]:
    """Send rate × seconds messages on a fixed schedule; returns (our seq, PDU seq, wall time sent) for each."""
    total = round(args.rate * args.seconds)
    sent: list[tuple[int, int, float]] = []
    start = time.perf_counter()
    while len(sent) < total:
        conn = smsc.receiving()
        if conn is None:
            raise RuntimeError(f"the bind was lost after {len(sent)} messages")
        now = time.perf_counter()
        while len(sent) < total and start + len(sent) / args.rate <= now:
            i = len(sent)
            customer = f"+1555300{i % args.customers:04d}"
            sent.append((i, smsc.send_one(conn, customer, args.to, text_for(i)), time.time()))
        await asyncio.sleep(max(0.0, start + len(sent) / args.rate - time.perf_counter()))
    return sent


async def run(args: argparse.Namespace) -> dict[str, Any]:
    user, _, password = args.auth.partition(":")
    agent = Agent(f"http://127.0.0.1:{args.http_port}/api/v2/events", (user, password), timeout=args.timeout)
    smsc = Smsc(args.smsc_port)
    async with smsc:
        print(f"listening on {smsc.port}", flush=True)
        await smsc.wait_for(lambda: smsc.receiving() is not None, timeout=args.timeout)
        listening = asyncio.create_task(agent.run())
        try:
            await asyncio.wait_for(agent.connected.wait(), args.timeout)
            if agent.error:
                raise RuntimeError(f"the SSE stream failed: {agent.error}")
            await asyncio.sleep(0.5)  # let the bind settle before the clock starts
            sent = await pump(smsc, args)
            deadline = time.perf_counter() + args.drain
            while time.perf_counter() < deadline and (len(smsc.answers) < len(sent) or len(agent.seen) < len(sent)):
                await asyncio.sleep(0.05)
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
    statuses: dict[str, int] = {}
    for _, status in smsc.answers.values():
        statuses[f"0x{status:08X}"] = statuses.get(f"0x{status:08X}", 0) + 1
    return {
        "sent": [[i, pdu_seq, at, smsc.answers.get(pdu_seq, (None, 0))[0]] for i, pdu_seq, at in sent],
        "statuses": statuses,
        "seen": agent.seen,
        "sse_error": agent.error,
    }


def run_to_file(run: Callable[[argparse.Namespace], Awaitable[Any]], args: argparse.Namespace) -> None:
    """A driver's ``run(args)`` on uvloop when installed (asyncio's loop otherwise), its result as JSON in
    ``args.out`` for the bench process to read."""
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(args))  # type: ignore[arg-type]
    else:
        result = uvloop.run(run(args))
    with open(args.out, "w") as out:
        json.dump(result, out)


def main() -> None:
    parser = argparse.ArgumentParser(description="Inbound load for `python -m bench`.")
    parser.add_argument("--smsc-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=500.0, help="messages a second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--to", default="+15551230001", help="the company number")
    parser.add_argument("--auth", default="101:sms101api", help="the agent whose SSE stream is read")
    parser.add_argument("--timeout", type=float, default=60.0, help="longest wait for the bind and the SSE stream")
    parser.add_argument("--drain", type=float, default=30.0, help="longest wait for the last answers and events")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    run_to_file(run, args)


if __name__ == "__main__":
    main()
