"""Parley's SMPP server for applications (issue 13 §4) driven by the real `smpplib` client, with the SMSC
simulator as the carrier behind Parley: binds, submits in every coding, long messages three ways, receipts,
inbound messages, throttling, bind failures and lockout, garbage."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import smpplib.exceptions
import smpplib.gsm

from parley.channels.smpp_pdu import ESM_RECEIPT, ESM_UDHI, Status, SubmitSm, encode
from tests.support.esme import Esme, wait_for
from tests.support.provisioning import document
from tests.support.server import ParleyServer, free_port
from tests.support.smsc import SmscSimulator

ALICE = ("101", "sms101api")
OFFICE = "15551230001"  # Alice's office number (and her service's), as SMPP digits
ACCOUNTS = [
    {"system_id": "crm", "password": "s3cret", "user": "101", "throughput": 200},
    {"system_id": "slow", "password": "slowpw", "user": "101", "throughput": 1},
]
CARRIER = {"name": "carrier", "role": "carrier", "kind": "smpp", "host": "127.0.0.1", "system_id": "parley",
           "password": "secret"}  # fmt: skip


@pytest.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    async with SmscSimulator(port=0, system_id="parley", password="secret") as simulator:
        yield simulator


@pytest.fixture
async def server(tmp_path: Path, smsc: SmscSimulator) -> AsyncIterator[ParleyServer]:
    parley = ParleyServer(tmp_path, extra_env={"PARLEY_SMPP": f"127.0.0.1:{free_port()}"})
    parley.apply(document(transports=[{**CARRIER, "port": smsc.port}], smpp_accounts=ACCOUNTS))
    await parley.start()
    try:
        yield parley
    finally:
        await parley.close()


def smpp_port(server: ParleyServer) -> int:
    return int(server.env["PARLEY_SMPP"].rpartition(":")[2])


@pytest.fixture
async def esme(server: ParleyServer) -> AsyncIterator[Esme]:
    client = Esme(smpp_port(server))
    await asyncio.to_thread(client.bind)
    try:
        yield client
    finally:
        client.close()


async def resp(esme: Esme, seq: int) -> tuple[int, str]:
    found: tuple[int, str] = await wait_for(lambda: esme.got.resps.get(seq))
    return found


async def messages(server: ParleyServer) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as client:
        return list((await client.get("/api/v2/messages", params={"limit": 500})).json()["messages"])


def carried(smsc: SmscSimulator) -> str:
    return "".join(r.text for r in smsc.received)


CODINGS = [
    pytest.param(0, smpplib.gsm.gsm_encode("Hello @ £5 {ok}"), "Hello @ £5 {ok}", id="gsm7"),
    pytest.param(3, "Café crème".encode("latin-1"), "Café crème", id="latin1"),
    pytest.param(8, "Привет 👋".encode("utf-16-be"), "Привет 👋", id="ucs2"),
]


@pytest.mark.parametrize(("coding", "data", "text"), CODINGS)
async def test_a_submit_in_each_coding_reaches_the_carrier_with_the_message_id_in_its_resp(
    server: ParleyServer, smsc: SmscSimulator, esme: Esme, coding: int, data: bytes, text: str
) -> None:
    seq = esme.submit(source_addr=OFFICE, destination_addr="15557654321", short_message=data, data_coding=coding)
    status, message_id = await resp(esme, seq)
    assert status == 0 and message_id
    await smsc.wait_for(lambda: len(smsc.received) == 1, timeout=20)
    assert carried(smsc) == text
    sent = [m for m in await messages(server) if m["id"] == message_id]
    assert sent and sent[0]["body"] == text and sent[0]["to"] == "+15557654321"
    assert sent[0]["source"] == "smpp-server"


LONG = "This message is long enough to need three parts when it is sent as GSM-7 text. " * 4


async def test_a_long_message_in_udh_parts_is_sent_once_whole_with_one_id_per_part(
    server: ParleyServer, smsc: SmscSimulator, esme: Esme
) -> None:
    parts, coding, esm_class = smpplib.gsm.make_parts(LONG)
    assert esm_class == ESM_UDHI and len(parts) > 1
    seqs = [
        esme.submit(
            source_addr=OFFICE,
            destination_addr="15557654321",
            short_message=p,
            data_coding=coding,
            esm_class=esm_class,
            registered_delivery=1,
        )
        for p in parts
    ]
    answers = [await resp(esme, s) for s in seqs]
    assert all(status == 0 for status, _ in answers)
    assert len({mid for _, mid in answers}) == len(parts)
    try:
        await wait_for(lambda: carried(smsc) == LONG.strip() or carried(smsc) == LONG)
    except TimeoutError:  # failed once under the full suite's load (session 12): say what the carrier got
        received = [(r.text, r.udh, r.message_id) for r in smsc.received]
        out = [m for m in await messages(server) if m["direction"] == "out"]
        raise AssertionError(f"the carrier got {received!r}; Parley's outbound messages: {out!r}") from None
    assert len([m for m in await messages(server) if m["direction"] == "out"]) == 1
    # one receipt per part, each naming its part's id
    receipts = await wait_for(lambda: len(esme.got.delivers) >= len(parts) and esme.got.delivers)
    assert sorted(r.receipted_message_id.decode().rstrip("\0") for r in receipts) == sorted(m for _, m in answers)
    assert all(r.esm_class == ESM_RECEIPT and b"stat:DELIVRD" in r.short_message for r in receipts)


async def test_a_long_message_in_sar_parts_is_joined(server: ParleyServer, smsc: SmscSimulator, esme: Esme) -> None:
    parts, coding, _ = smpplib.gsm.make_parts(LONG, use_udhi=False)
    for i, part in enumerate(parts, start=1):
        seq = esme.submit(source_addr=OFFICE, destination_addr="15557654321", short_message=part,
                          data_coding=coding, sar_msg_ref_num=77, sar_total_segments=len(parts),
                          sar_segment_seqnum=i)  # fmt: skip
        assert (await resp(esme, seq))[0] == 0
    await wait_for(lambda: carried(smsc) in (LONG, LONG.strip()))


async def test_a_long_message_in_message_payload_is_sent_whole(
    server: ParleyServer, smsc: SmscSimulator, esme: Esme
) -> None:
    seq = esme.submit(source_addr=OFFICE, destination_addr="15557654321", short_message=b"",
                      message_payload=smpplib.gsm.gsm_encode(LONG), data_coding=0)  # fmt: skip
    assert (await resp(esme, seq))[0] == 0
    await wait_for(lambda: carried(smsc) in (LONG, LONG.strip()))


async def test_a_receipt_waits_until_a_receiver_binds(server: ParleyServer, smsc: SmscSimulator) -> None:
    sender = Esme(smpp_port(server))
    await asyncio.to_thread(sender.bind, "transmitter")
    try:
        seq = sender.submit(source_addr=OFFICE, destination_addr="15557654321", short_message=b"Hi",
                            registered_delivery=1)  # fmt: skip
        _, message_id = await resp(sender, seq)

        async def delivered() -> bool:
            return any(m["id"] == message_id and m["status"] == "delivered" for m in await messages(server))

        deadline = asyncio.get_running_loop().time() + 20
        while not await delivered():
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        assert sender.got.delivers == []  # a transmitter gets no deliver_sm
        receiver = Esme(smpp_port(server))
        await asyncio.to_thread(receiver.bind, "receiver")
        try:
            receipts = await wait_for(lambda: receiver.got.delivers)
            receipt = receipts[0]
            assert receipt.receipted_message_id.decode().rstrip("\0") == message_id
            assert receipt.message_state == 2  # DELIVERED
            assert receipt.short_message.decode().startswith(f"id:{message_id} sub:001 dlvrd:001 submit date:")
        finally:
            receiver.close()
    finally:
        sender.close()


async def test_an_inbound_message_to_the_users_number_reaches_the_receiver(
    server: ParleyServer, smsc: SmscSimulator, esme: Esme
) -> None:
    await smsc.wait_for(lambda: smsc.bound_sessions == 1, timeout=20)
    smsc.send_mo("+15559870000", "+" + OFFICE, "Is the shop open?")
    delivers = await wait_for(lambda: [d for d in esme.got.delivers if d.esm_class == 0])
    mo = delivers[0]
    assert mo.short_message == b"Is the shop open?"
    assert (mo.source_addr.decode(), mo.destination_addr.decode()) == ("15559870000", OFFICE)
    async with httpx.AsyncClient(base_url=server.url, auth=ALICE) as client:
        conversations = (await client.get("/api/v2/conversations")).json()
    assert [c["external_number"] for c in conversations] == ["+15559870000"]  # routed as usual too


async def test_an_account_past_its_throughput_is_throttled(server: ParleyServer) -> None:
    esme = Esme(smpp_port(server))
    await asyncio.to_thread(esme.bind, "transmitter", "slow", "slowpw")
    try:
        seqs = [esme.submit(source_addr=OFFICE, destination_addr="15557654321", short_message=b"x")
                for _ in range(5)]  # fmt: skip
        statuses = [(await resp(esme, s))[0] for s in seqs]
        assert Status.ESME_RTHROTTLED in statuses and 0 in statuses
    finally:
        esme.close()


@pytest.mark.parametrize(
    ("source", "ton", "destination", "status"),
    [
        pytest.param("15550000000", 1, "15557654321", Status.ESME_RINVSRCADR, id="not-her-number"),
        pytest.param("Shop", 5, "15557654321", Status.ESME_RINVSRCADR, id="alphanumeric-to-nanp"),
        pytest.param("Shop", 5, "447700900123", 0, id="alphanumeric-to-uk"),
        pytest.param(OFFICE, 1, "12", Status.ESME_RINVDSTADR, id="bad-destination"),
    ],
)
async def test_the_source_addr_follows_the_users_sender_rules(
    esme: Esme, source: str, ton: int, destination: str, status: int
) -> None:
    seq = esme.submit(source_addr=source, source_addr_ton=ton, destination_addr=destination, short_message=b"x")
    assert (await resp(esme, seq))[0] == status


async def bind_status(server: ParleyServer, system_id: str, password: str) -> int:
    esme = Esme(smpp_port(server))
    try:
        await asyncio.to_thread(esme.bind, "transceiver", system_id, password)
    except smpplib.exceptions.PDUError as exc:
        return int(exc.args[1])
    finally:
        esme.close()
    return 0


async def test_wrong_binds_are_refused_and_five_lock_the_address_out(server: ParleyServer) -> None:
    assert await bind_status(server, "nobody", "s3cret") == Status.ESME_RINVSYSID
    assert await bind_status(server, "crm", "wrong") == Status.ESME_RINVPASWD
    for _ in range(3):
        assert await bind_status(server, "crm", "wrong") in (Status.ESME_RINVPASWD, Status.ESME_RBINDFAIL)
    assert await bind_status(server, "crm", "s3cret") == Status.ESME_RBINDFAIL


def _frame(command_id: int, seq: int, body: bytes = b"") -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, 0, seq) + body


def _read_pdu(sock: socket.socket) -> tuple[int, int, int]:
    head = b""
    while len(head) < 16:
        chunk = sock.recv(16 - len(head))
        if not chunk:
            raise ConnectionError("closed")
        head += chunk
    length, command_id, status, seq = struct.unpack(">IIII", head)
    while length > 16:
        length -= len(sock.recv(length - 16))
    return command_id, status, seq


def _garbage(port: int) -> list[tuple[int, int, int]]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_frame(0x00000099, 7))  # an unknown command in an intact frame
        sock.sendall(_frame(0x00000004, 8, b"\x00\x01"))  # a truncated submit_sm
        sock.sendall(_frame(0x00000015, 9))  # enquire_link: the connection goes on
        answers = [_read_pdu(sock) for _ in range(3)]
        sock.sendall(b"\x00\x00\x00\x05junk")  # command_length below the header: nack, then closed
        answers.append(_read_pdu(sock))
        with pytest.raises((ConnectionError, OSError)):
            _read_pdu(sock)
    return answers


async def test_garbage_is_answered_with_generic_nack(server: ParleyServer) -> None:
    answers = await asyncio.to_thread(_garbage, smpp_port(server))
    assert answers[0] == (0x80000000, Status.ESME_RINVCMDID, 7)
    assert answers[1][0] == 0x80000000 and answers[1][2] == 8
    assert answers[2] == (0x80000015, 0, 9)
    assert answers[3][:2] == (0x80000000, Status.ESME_RINVCMDLEN)


def _unbound_submit(port: int) -> tuple[int, int, int]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(encode(SubmitSm(sequence_number=3, destination_addr="15557654321", short_message=b"x")))
        return _read_pdu(sock)


async def test_a_submit_before_bind_is_refused(server: ParleyServer) -> None:
    command_id, status, _ = await asyncio.to_thread(_unbound_submit, smpp_port(server))
    assert (command_id, status) == (0x80000004, Status.ESME_RINVBNDSTS)


async def test_unbind_is_answered(server: ParleyServer) -> None:
    esme = Esme(smpp_port(server))
    await asyncio.to_thread(esme.client.connect)
    await asyncio.to_thread(esme.client.bind_transmitter, system_id="crm", password="s3cret")
    answer = await asyncio.to_thread(esme.client.unbind)
    assert answer.command == "unbind_resp"
    esme.client.disconnect()
