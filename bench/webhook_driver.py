"""Webhook load: an SMSC pushing MO messages (deliver_sm) at a fixed rate, and the HTTP receiver of the webhooks.

    python -m bench.webhook_driver --smsc-port 2775 --receiver-port 9000 --http-port 8080 --rate 1000 \
        --seconds 10 --customers 200 --to +15551230001 --auth 101:sms101api --out webhooks.json

It listens as an SMSC (bench/inbound_driver.py's) and as a plain HTTP/1.1 server that answers every POST with 200
at once. When Parley has bound, it creates one webhook endpoint through the API (POST /api/v2/webhook-endpoints
as ``--auth``, an admin, for ``message.received``) aimed at the receiver, then sends ``rate × seconds`` one-part
messages on a fixed schedule, each text carrying its sequence number. It records in wall-clock seconds (time.time,
as Parley's timestamps): when each deliver_sm was written, when its deliver_sm_resp came back (Parley answers once
the message is stored), and when its webhook reached the receiver, with the event's ``created_at``. The receiver
checks nothing else (not the signature): it should cost as little as a real receiver's queueing of the event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import datetime
from typing import Any

import httpx

from bench.inbound_driver import Smsc, pump, run_to_file, seq_of

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


class Receiver:
    """A keep-alive HTTP/1.1 server: for each webhook, by sequence number, when it arrived and its event's time."""

    def __init__(self) -> None:
        self.arrived: dict[int, tuple[float, float]] = {}  # seq -> (arrived at, event created_at)
        self.duplicates = 0
        self.unmatched = 0  # bodies without a sequence number (another event type, say)
        self.first_error: str | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                now = time.time()
                writer.write(OK)
                self.record(body, now)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def record(self, body: bytes, now: float) -> None:
        try:
            event = json.loads(body)
            seq = seq_of(str(event["data"].get("body") or ""))
            created = datetime.fromisoformat(event["created_at"].replace("Z", "+00:00")).timestamp()
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self.first_error = self.first_error or f"{type(exc).__name__}: {exc}: {body[:200]!r}"
            self.unmatched += 1
            return
        if seq is None:
            self.unmatched += 1
        elif seq in self.arrived:
            self.duplicates += 1
        else:
            self.arrived[seq] = (now, created)


async def create_endpoint(args: argparse.Namespace) -> str:
    user, _, password = args.auth.partition(":")
    body = {"url": f"http://127.0.0.1:{args.receiver_port}/parley", "events": ["message.received"],
            "description": "bench receiver"}  # fmt: skip
    deadline = time.monotonic() + args.timeout
    async with httpx.AsyncClient(auth=(user, password), timeout=30) as client:
        while True:  # the workers bind before the API listens
            try:
                answer = await client.post(f"http://127.0.0.1:{args.http_port}/api/v2/webhook-endpoints", json=body)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
    if answer.status_code != 201:
        raise RuntimeError(f"the webhook endpoint was refused: {answer.status_code} {answer.text}")
    return str(answer.json()["id"])


async def run(args: argparse.Namespace) -> dict[str, Any]:
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", args.receiver_port)
    smsc = Smsc(args.smsc_port)
    async with server, smsc:
        print(f"listening on {smsc.port} (SMSC) and {args.receiver_port} (webhooks)", flush=True)
        await smsc.wait_for(lambda: smsc.receiving() is not None, timeout=args.timeout)
        endpoint = await create_endpoint(args)
        await asyncio.sleep(0.5)  # let the bind settle before the clock starts
        sent = await pump(smsc, args)
        deadline = time.perf_counter() + args.drain
        while time.perf_counter() < deadline and (
            len(smsc.answers) < len(sent) or len(receiver.arrived) < len(smsc.answers)
        ):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # duplicates, if any, a moment to show
    statuses: dict[str, int] = {}
    for _, status in smsc.answers.values():
        statuses[f"0x{status:08X}"] = statuses.get(f"0x{status:08X}", 0) + 1
    return {
        "endpoint": endpoint,
        "sent": [[i, pdu_seq, at, smsc.answers.get(pdu_seq, (None, 0))[0]] for i, pdu_seq, at in sent],
        "statuses": statuses,
        "arrived": {str(seq): list(times) for seq, times in receiver.arrived.items()},
        "duplicates": receiver.duplicates,
        "unmatched": receiver.unmatched,
        "receiver_error": receiver.first_error,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Webhook load for `python -m bench --scenario webhooks`.")
    parser.add_argument("--smsc-port", type=int, required=True)
    parser.add_argument("--receiver-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True, help="Parley's API, to create the endpoint")
    parser.add_argument("--rate", type=float, default=1000.0, help="messages a second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--to", default="+15551230001", help="the company number")
    parser.add_argument("--auth", default="101:sms101api", help="an admin, who creates the endpoint")
    parser.add_argument("--timeout", type=float, default=60.0, help="longest wait for the bind")
    parser.add_argument("--drain", type=float, default=60.0, help="longest wait for the last answers and webhooks")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    run_to_file(run, args)


if __name__ == "__main__":
    main()
