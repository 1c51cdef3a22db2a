"""The whole outbound path with real peers: HTTP in, SMPP (or HTTP) out, receipts back."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.channels.smpp_pdu import Status
from tests.support.http_sink import HttpSink
from tests.support.provisioning import document
from tests.support.server import ParleyServer, free_port, wait_until
from tests.support.smsc import SmscSimulator

ALICE = ("101", "sms101api")
FAST_RETRIES = {"PARLEY_RETRY_BASE_SECONDS": "0.2"}


def carrier(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": "carrier",
        "role": "carrier",
        "kind": "smpp",
        "host": "127.0.0.1",
        "port": port,
        "system_id": "parley",
        "password": "secret",
        **extra,
    }


@pytest.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    async with SmscSimulator(port=0, system_id="parley", password="secret") as simulator:
        yield simulator


@pytest.fixture
async def server(tmp_path: Path, smsc: SmscSimulator) -> AsyncIterator[ParleyServer]:
    parley = ParleyServer(tmp_path, extra_env=FAST_RETRIES)
    parley.apply(document(transports=[carrier(smsc.port)]))
    await parley.start()
    try:
        yield parley
    finally:
        await parley.close()


async def send(server: ParleyServer, number: str, message: str, **fields: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as client:
        response = await client.post("/api/v1/originate/sms", data={"number": number, "message": message, **fields})
    assert response.json() == {"type": "result", "result": "Success"}, response.text


async def messages(server: ParleyServer) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as client:
        response = await client.get("/api/v2/messages", params={"limit": 500})
    return list(response.json()["messages"])


async def one_with_status(server: ParleyServer, status: str, timeout: float = 20) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        found = [m for m in await messages(server) if m["status"] == status]
        return found[0] if found else None

    result: dict[str, Any] = await wait_until(check, timeout)
    return result


async def test_a_message_reaches_the_smsc_and_turns_delivered(server: ParleyServer, smsc: SmscSimulator) -> None:
    await send(server, "+15551234567", "Hello")
    await smsc.wait_for(lambda: len(smsc.received) == 1, timeout=20)
    submit = smsc.received[0]
    assert submit.text == "Hello"
    assert (submit.pdu.destination_addr, submit.pdu.source_addr) == ("15551234567", "15551230001")
    delivered = await one_with_status(server, "delivered")
    assert delivered["transport"] == "carrier"
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as client:
        detail = (await client.get(f"/api/v2/messages/{delivered['id']}")).json()
    assert [h["status"] for h in detail["history"]] == ["queued", "sending", "sent", "delivered"]
    assert "stat=DELIVRD" in (detail["history"][-1]["detail"] or "")


async def test_a_long_unicode_text_goes_as_concatenated_parts_and_is_delivered_once_all_are(
    server: ParleyServer, smsc: SmscSimulator
) -> None:
    text = "Здравствуйте! Ваш заказ готов к выдаче. " * 4  # 160 UCS-2 units: 3 parts
    await send(server, "+447700900123", text)
    await smsc.wait_for(lambda: len(smsc.received) == 3, timeout=20)
    assert "".join(s.text for s in sorted(smsc.received, key=lambda s: s.udh.seq if s.udh else 0)) == text
    assert {s.pdu.data_coding for s in smsc.received} == {0x08}
    delivered = await one_with_status(server, "delivered")
    assert (delivered["segments"], delivered["encoding"]) == (3, "ucs2")


async def test_a_receipt_that_arrives_before_the_submit_response_is_not_lost(
    server: ParleyServer, smsc: SmscSimulator
) -> None:
    smsc.receipt_before_resp = True
    for i in range(20):
        await send(server, f"+1555123{i:04d}", f"race {i}")
    await wait_until(lambda: _count(server, "delivered", 20), timeout=30)


async def _count(server: ParleyServer, status: str, n: int) -> bool:
    return sum(m["status"] == status for m in await messages(server)) == n


async def test_a_throttled_message_is_retried_and_then_delivered(server: ParleyServer, smsc: SmscSimulator) -> None:
    smsc.throttle_next(2)
    await send(server, "+15551234567", "patience")
    delivered = await one_with_status(server, "delivered", timeout=30)
    assert len(smsc.received) == 1  # the throttled attempts were answered, not accepted
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as client:
        detail = (await client.get(f"/api/v2/messages/{delivered['id']}")).json()
    retries = [h for h in detail["history"] if (h["detail"] or "").startswith("retry")]
    assert len(retries) == 2 and "THROTTLED" in retries[0]["detail"]


async def test_a_permanent_refusal_fails_the_message_with_the_carriers_reason(
    server: ParleyServer, smsc: SmscSimulator
) -> None:
    smsc.fail_next(1, Status.ESME_RINVDSTADR)
    await send(server, "+15551234567", "nowhere")
    failed = await one_with_status(server, "failed")
    assert "ESME_RINVDSTADR" in failed["error"]


async def test_an_undelivered_receipt_marks_the_message_undelivered(server: ParleyServer, smsc: SmscSimulator) -> None:
    smsc.receipt_stat = "UNDELIV"
    await send(server, "+15551234567", "lost phone")
    undelivered = await one_with_status(server, "undelivered")
    assert "UNDELIV" in undelivered["error"]


async def test_messages_wait_while_the_carrier_is_down_and_go_when_it_returns(tmp_path: Path) -> None:
    port = free_port()
    parley = ParleyServer(tmp_path, extra_env=FAST_RETRIES)
    parley.apply(document(transports=[carrier(port)]))
    await parley.start()
    try:
        for i in range(5):
            await send(parley, f"+1555000{i:04d}", f"waiting {i}")
        await wait_until(lambda: _has_retry_error(parley), timeout=20)
        assert not any(m["status"] in ("failed", "sent", "delivered") for m in await messages(parley))
        async with SmscSimulator(port=port, system_id="parley", password="secret") as smsc:
            await smsc.wait_for(lambda: len(smsc.received) == 5, timeout=60)
            await wait_until(lambda: _count(parley, "delivered", 5), timeout=30)
    finally:
        await parley.close()


async def _has_retry_error(server: ParleyServer) -> bool:
    return any(m["status"] == "queued" and m["error"] for m in await messages(server))


async def test_an_accepted_message_survives_kill_9_and_is_sent_after_restart(tmp_path: Path) -> None:
    port = free_port()
    parley = ParleyServer(tmp_path, extra_env=FAST_RETRIES)
    parley.apply(document(transports=[carrier(port)]))
    await parley.start()
    for i in range(10):
        await send(parley, f"+1555000{i:04d}", f"durable {i}")
    parley.kill()
    async with SmscSimulator(port=port, system_id="parley", password="secret") as smsc:
        await parley.start()
        try:
            await smsc.wait_for(lambda: len({s.text for s in smsc.received}) == 10, timeout=60)
            await wait_until(lambda: _count(parley, "delivered", 10), timeout=30)
        finally:
            await parley.close()


async def test_the_curl_transport_takes_priority_and_posts_to_the_http_server(
    tmp_path: Path, smsc: SmscSimulator
) -> None:
    async with HttpSink() as sink:
        command = (
            f'curl -k -X POST -u user:password --url "{sink.url}/api/v1/originate/sms" '
            '--data-urlencode "number={TO_NUMBER}" --data-urlencode "message={MESSAGE}" --data-urlencode "from={FROM}"'
        )
        parley = ParleyServer(tmp_path, extra_env=FAST_RETRIES)
        parley.apply(document(transports=[{"name": "office", "role": "curl", "command": command}, carrier(smsc.port)]))
        await parley.start()
        try:
            await send(parley, "+15551234567", "via http & more")
            sent = await one_with_status(parley, "sent")
            assert sent["transport"] == "office"
            [request] = sink.requests
            assert request.form == {
                "number": ["+15551234567"],
                "message": ["via http & more"],
                "from": ["+15551230001"],
            }
            assert request.headers["authorization"].startswith("Basic ")
            assert smsc.received == []
        finally:
            await parley.close()


async def test_gsm_names_a_gateway_that_overrides_the_curl_server(tmp_path: Path, smsc: SmscSimulator) -> None:
    async with SmscSimulator(port=0, system_id="parley", password="secret") as gateway, HttpSink() as sink:
        parley = ParleyServer(tmp_path, extra_env=FAST_RETRIES)
        parley.apply(
            document(
                transports=[
                    {
                        "name": "office",
                        "role": "curl",
                        "command": f'curl -d "to={{TO_NUMBER}}&m={{MESSAGE}}" {sink.url}/',
                    },
                    {**carrier(gateway.port), "name": "gsm-lobby", "role": "gsm", "id": "9c7514330001"},
                    carrier(smsc.port),
                ]
            )
        )
        await parley.start()
        try:
            await send(parley, "+15551234567", "through the lobby", gsm="9c7514330001")
            delivered = await one_with_status(parley, "delivered")
            assert delivered["transport"] == "gsm-lobby"
            assert [s.text for s in gateway.received] == ["through the lobby"]
            assert sink.requests == [] and smsc.received == []
        finally:
            await parley.close()


async def test_an_inbound_message_from_the_smsc_is_stored_as_received(
    server: ParleyServer, smsc: SmscSimulator
) -> None:
    await smsc.wait_for(lambda: smsc.bound_sessions >= 1, timeout=20)
    smsc.send_mo("+15557654321", "+15551230001", "Hi, is my order ready?")
    received = await one_with_status(server, "received")
    assert (received["direction"], received["from"], received["to"]) == ("in", "+15557654321", "+15551230001")
    assert received["body"] == "Hi, is my order ready?"
    await smsc.wait_for(lambda: len(smsc.deliver_responses) >= 1, timeout=5)
    assert smsc.deliver_responses[0] == 0  # ESME_ROK: stored before answered


async def test_metrics_count_accepted_and_dispatched_messages(server: ParleyServer, smsc: SmscSimulator) -> None:
    await send(server, "+15551234567", "count me")
    await one_with_status(server, "delivered")
    async with httpx.AsyncClient(base_url=server.url) as client:
        text = (await client.get("/metrics")).text
    assert 'parley_messages_accepted_total{source="wildix"} 1.0' in text
    assert 'parley_dispatch_outcomes_total{outcome="delivered",transport="carrier"} 1.0' in text


async def test_ids_that_an_smsc_restart_hands_out_again_send_nothing_twice(
    server: ParleyServer, smsc: SmscSimulator
) -> None:
    before = [f"+1555100{i:04d}" for i in range(20)]
    after = [f"+1555200{i:04d}" for i in range(20)]
    for number in before:
        await send(server, number, "before the restart")
    await wait_until(lambda: _count(server, "delivered", 20), timeout=30)
    smsc.restart()  # its message ids start again at 0x1000
    # Now each receipt comes before its submit_sm_resp: it finds only an old, delivered message with its id,
    # and must wait for the new one rather than be spent on the old.
    smsc.receipt_before_resp = True
    await smsc.wait_for(lambda: smsc.bound_sessions >= 1, timeout=30)
    for number in after:
        await send(server, number, "after the restart")
    await wait_until(lambda: _count(server, "delivered", 40), timeout=60)
    ids = Counter(s.message_id for s in smsc.received)
    assert set(ids.values()) == {2}  # every id the SMSC gave out, it gave twice
    per_number = Counter("+" + s.pdu.destination_addr for s in smsc.received)
    assert per_number == Counter(before + after)  # each customer texted once
    for m in await messages(server):
        assert m["status"] == "delivered" and not m["error"], m
