"""The SMSC simulator's `receipt_delay` mode (issue 15): each receipt alone, some time after its submit_sm_resp."""

from __future__ import annotations

import asyncio

from parley.channels.smpp_pdu import (
    ESM_RECEIPT,
    BindTransceiver,
    BindTransceiverResp,
    DeliverSm,
    DeliverSmResp,
    SubmitSm,
    SubmitSmResp,
    decode,
    encode,
    read_frame,
)
from tests.support.smsc import SmscSimulator

MESSAGES = 5


async def test_each_receipt_comes_alone_after_its_submit_sm_resp() -> None:
    async with SmscSimulator(receipt_delay=(0.01, 0.05)) as smsc:
        reader, writer = await asyncio.open_connection("127.0.0.1", smsc.port)
        try:
            writer.write(encode(BindTransceiver(sequence_number=1, system_id="parley", password="secret")))
            assert isinstance(decode(await read_frame(reader)), BindTransceiverResp)
            for seq in range(2, 2 + MESSAGES):
                submit = SubmitSm(sequence_number=seq, source_addr="15550100", destination_addr="447700900123",
                                  registered_delivery=1, short_message=f"hello {seq}".encode())  # fmt: skip
                writer.write(encode(submit))
            answered: list[str] = []  # message ids, in the order their submit_sm_resp came
            receipts: list[str] = []  # message ids, in the order their receipts came
            async with asyncio.timeout(10):
                while len(receipts) < MESSAGES:
                    pdu = decode(await read_frame(reader))
                    if isinstance(pdu, SubmitSmResp):
                        answered.append(pdu.message_id)
                    elif isinstance(pdu, DeliverSm):
                        assert pdu.esm_class == ESM_RECEIPT
                        [carrier_id] = [w[3:] for w in pdu.short_message.decode().split() if w.startswith("id:")]
                        assert carrier_id in answered, "a receipt came before its submit_sm_resp"
                        receipts.append(carrier_id)
                        writer.write(encode(DeliverSmResp(sequence_number=pdu.sequence_number)))
        finally:
            writer.close()
    assert sorted(receipts) == sorted(answered) == sorted(s.message_id for s in smsc.received)
    assert smsc.receipts_sent == MESSAGES


async def test_without_receipt_delay_the_receipt_follows_its_answer_at_once() -> None:
    async with SmscSimulator() as smsc:
        assert smsc.receipt_delay is None
        reader, writer = await asyncio.open_connection("127.0.0.1", smsc.port)
        try:
            writer.write(encode(BindTransceiver(sequence_number=1, system_id="parley", password="secret")))
            assert isinstance(decode(await read_frame(reader)), BindTransceiverResp)
            writer.write(encode(SubmitSm(sequence_number=2, destination_addr="447700900123", registered_delivery=1,
                                         short_message=b"hi")))  # fmt: skip
            async with asyncio.timeout(10):
                first, second = decode(await read_frame(reader)), decode(await read_frame(reader))
        finally:
            writer.close()
    assert isinstance(first, SubmitSmResp) and isinstance(second, DeliverSm)
    assert smsc.receipts_sent == 1
