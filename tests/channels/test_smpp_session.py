"""SmppSession against a scripted peer on loopback: back-pressure on the peer's deliver_sm."""

from __future__ import annotations

import asyncio

import structlog

from parley.channels.smpp_pdu import DeliverSm, DeliverSmResp, Status, decode, encode, read_frame
from parley.channels.smpp_session import SmppSession


async def test_a_session_stops_reading_deliver_sm_past_its_unanswered_limit() -> None:
    answers: list[DeliverSmResp] = []
    peer_done = asyncio.Event()

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"".join(encode(DeliverSm(sequence_number=seq, source_addr="15557654321")) for seq in range(1, 6)))
        await writer.drain()
        while len(answers) < 5:
            pdu = decode(await read_frame(reader))
            assert isinstance(pdu, DeliverSmResp)
            answers.append(pdu)
        peer_done.set()
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    started: list[int] = []
    release = asyncio.Event()

    async def on_deliver(pdu: DeliverSm) -> None:
        started.append(pdu.sequence_number)
        await release.wait()  # storing is slow

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    session = SmppSession(
        reader,
        writer,
        on_deliver=on_deliver,
        window=1,
        response_timeout=2.0,
        enquire_link_interval=60.0,
        log=structlog.get_logger(),
        max_unanswered=2,
    )
    session.start()
    try:
        async with asyncio.timeout(5):
            while len(started) < 2:
                await asyncio.sleep(0)
            for _ in range(200):  # every PDU is in our socket buffer by now; the session must leave 3 there
                await asyncio.sleep(0)
            assert started == [1, 2]
            release.set()
            await peer_done.wait()
        assert started == [1, 2, 3, 4, 5]
        assert sorted(a.sequence_number for a in answers) == [1, 2, 3, 4, 5]
        assert {a.command_status for a in answers} == {Status.ESME_ROK}
    finally:
        await session.aclose("test over")
        server.close()
        await server.wait_closed()
