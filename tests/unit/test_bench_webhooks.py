"""The webhooks and SMPP-server bench scenarios: their receiver and the figures made from a run's records."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from bench.inbound_driver import text_for
from bench.smpp_server import figures as smpp_figures
from bench.webhook_driver import OK, Receiver
from bench.webhooks import analyse


def _event(seq: int, created: str = "2026-12-01T00:00:00.500Z") -> bytes:
    data = {"id": f"msg_{seq}", "direction": "in", "body": text_for(seq)}
    return json.dumps({"id": f"evt_{seq}", "type": "message.received", "created_at": created, "data": data}).encode()


def _post(body: bytes) -> bytes:
    return b"POST /parley HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)


async def test_the_receiver_answers_each_post_and_records_each_message_once() -> None:
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        for body in (_event(7), _event(8), _event(7), b'{"created_at": "x"}'):  # one keep-alive connection
            writer.write(_post(body))
        answers = await asyncio.wait_for(reader.readexactly(4 * len(OK)), 5)
        writer.close()
        await writer.wait_closed()
    assert answers.count(b"HTTP/1.1 200 OK") == 4
    assert sorted(receiver.arrived) == [7, 8]
    assert receiver.arrived[7][1] == datetime(2026, 12, 1, 0, 0, 0, 500_000, tzinfo=UTC).timestamp()  # created_at
    assert (receiver.duplicates, receiver.unmatched) == (1, 1)
    assert receiver.first_error is not None


def _run(arrived: dict[str, list[float]]) -> dict[str, object]:
    sent = [[i, i + 1, 100.0 + i / 10, 100.05 + i / 10] for i in range(10)]  # 10 msg/s, each stored in 50 ms
    return {"sent": sent, "statuses": {"0x00000000": 10}, "arrived": arrived, "duplicates": 0, "unmatched": 0}


def test_the_delivery_rate_is_set_against_the_storing_rate_and_the_lag_against_storing() -> None:
    arrived = {str(i): [100.2 + i / 10, 100.1 + i / 10] for i in range(10)}  # each 200 ms after its deliver_sm
    found = {f.key: f for f in analyse(_run(arrived), 10.0, 150.0, 0.5)}
    assert round(found["webhooks_stored"].value, 2) == round(10 / 0.95, 2)
    assert round(found["webhooks"].value, 2) == round(10 / 1.1, 2)
    assert found["webhooks"].against == "webhooks_stored"
    assert round(found["webhooks_p99_lag"].value) == 200
    assert found["webhooks_p99_lag"].against == "webhooks_p99_stored"
    assert round(found["webhooks_p50_stored"].value) == 50
    assert all(f.ok for f in found.values())


def test_a_missing_webhook_makes_the_figures_untrustworthy_and_says_so() -> None:
    arrived = {str(i): [100.2 + i / 10, 100.1 + i / 10] for i in range(9)}
    found = {f.key: f for f in analyse(_run(arrived), 10.0, 150.0, 0.5)}
    assert not found["webhooks"].ok
    assert not found["webhooks_p99_lag"].ok
    assert "9 of 10 arrived (1 missing)" in found["webhooks"].notes[0]


def test_the_esme_rate_is_set_against_the_carrier_rate() -> None:
    carrier, esme, rss = smpp_figures(100, 100, 0.5, [0.1 + i / 100 for i in range(100)], 180.0, 0.1)
    assert round(carrier.value) == 100  # 99 intervals in 0.99 s
    assert (esme.value, esme.against, carrier.against) == (200.0, "smpp_carrier", "")
    assert carrier.ok and esme.ok and rss.value == 180.0
    assert not smpp_figures(99, 100, 0.5, [0.1 + i / 100 for i in range(99)], 180.0, 0.1)[1].ok
