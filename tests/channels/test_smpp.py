"""SmppChannel against the SMSC simulator over real TCP on loopback. Waits are on conditions, never sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import structlog

from parley.channels.base import Inbound, Outgoing, Receipt
from parley.channels.smpp import SmppChannel, decode_text, parse_mo, submit_error
from parley.channels.smpp_pdu import DeliverSm, Status, Tag
from parley.core.delivery import Rejected, Throttled, Unreachable
from parley.core.text import Encoding, encoding_for
from tests.support.server import free_port
from tests.support.smsc import SmscSimulator

SYSTEM_ID = "parley"
PASSWORD = "pw-7x9q"  # distinctive, so a leak into the logs is easy to spot
GSM7_LONG = "The quick brown fox jumps over the lazy dog. " * 9  # 405 septets: 3 parts
UCS2_LONG = "Привет, как дела? 👋 " * 8  # 168 code units: 3 parts


class Recorder:
    """The channel's callbacks; ``fail_next`` makes the next callback raise (the store is down)."""

    def __init__(self) -> None:
        self.receipts: list[Receipt] = []
        self.inbound: list[Inbound] = []
        self.fail_next = 0
        self.before_receipt: Callable[[], Awaitable[None]] | None = None

    async def on_receipt(self, receipt: Receipt) -> None:
        if self.before_receipt is not None:
            await self.before_receipt()
        self._maybe_fail()
        self.receipts.append(receipt)

    async def on_inbound(self, inbound: Inbound) -> None:
        self._maybe_fail()
        self.inbound.append(inbound)

    def _maybe_fail(self) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("store unavailable")


def make_channel(port: int, recorder: Recorder, **overrides: object) -> SmppChannel:
    options: dict[str, object] = {
        "on_receipt": recorder.on_receipt,
        "on_inbound": recorder.on_inbound,
        "response_timeout": 2.0,
        "reconnect_min": 0.01,
        "reconnect_max": 0.05,
        "bind_wait": 0.5,
        **overrides,
    }
    return SmppChannel("test-smsc", "127.0.0.1", port, SYSTEM_ID, PASSWORD, **options)  # type: ignore[arg-type]


def message(
    text: str = "Hello from Parley", *, sender: str = "+15550100", encoding: Encoding | None = None
) -> Outgoing:
    return Outgoing(id="m1", sender=sender, to="+447700900123", text=text, encoding=encoding or encoding_for(text))


@pytest.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    async with SmscSimulator(system_id=SYSTEM_ID, password=PASSWORD) as simulator:
        yield simulator


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def channel(smsc: SmscSimulator, recorder: Recorder) -> AsyncIterator[SmppChannel]:
    ch = make_channel(smsc.port, recorder)
    await ch.start()
    await ch.wait_bound(5)
    try:
        yield ch
    finally:
        await ch.stop()


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """For conditions on our side (callbacks); polls the event loop, not the clock."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


# --- sending -------------------------------------------------------------------------------------


async def test_a_short_gsm7_text_goes_out_as_one_submit_sm(channel: SmppChannel, smsc: SmscSimulator) -> None:
    sent = await channel.send(message("Hello @ £5 {ok}"))

    [got] = smsc.received
    assert sent.carrier_ids == (got.message_id,)
    assert got.text == "Hello @ £5 {ok}"
    sm = got.pdu
    assert (sm.data_coding, sm.esm_class, got.udh, sm.registered_delivery) == (0x00, 0x00, None, 1)
    assert (sm.source_addr, sm.source_addr_ton, sm.source_addr_npi) == ("15550100", 1, 1)
    assert (sm.destination_addr, sm.dest_addr_ton, sm.dest_addr_npi) == ("447700900123", 1, 1)


async def test_a_short_ucs2_text_goes_out_with_data_coding_8(channel: SmppChannel, smsc: SmscSimulator) -> None:
    await channel.send(message("Привет 👋"))

    [got] = smsc.received
    assert (got.pdu.data_coding, got.text) == (0x08, "Привет 👋")


@pytest.mark.parametrize("text", [GSM7_LONG, UCS2_LONG], ids=["gsm7", "ucs2"])
async def test_a_long_text_goes_out_as_concatenated_parts_with_a_udh(
    channel: SmppChannel, smsc: SmscSimulator, text: str
) -> None:
    sent = await channel.send(message(text))

    parts = sorted(smsc.received, key=lambda r: r.udh.seq if r.udh else 0)
    assert len(parts) == 3 and len(sent.carrier_ids) == 3
    assert all(p.pdu.esm_class == 0x40 and p.udh is not None for p in parts)
    assert {p.udh.ref for p in parts if p.udh} == {parts[0].udh.ref if parts[0].udh else -1}
    assert [(p.udh.seq, p.udh.total) for p in parts if p.udh] == [(1, 3), (2, 3), (3, 3)]
    assert "".join(p.text for p in parts) == text
    assert sent.carrier_ids == tuple(p.message_id for p in parts)


async def test_two_long_texts_get_different_concatenation_references(channel: SmppChannel, smsc: SmscSimulator) -> None:
    await channel.send(message(GSM7_LONG))
    await channel.send(message(GSM7_LONG))

    assert len({r.udh.ref for r in smsc.received if r.udh}) == 2


async def test_an_alphanumeric_sender_goes_out_as_ton_5(channel: SmppChannel, smsc: SmscSimulator) -> None:
    await channel.send(message(sender="Parley"))

    [got] = smsc.received
    assert (got.pdu.source_addr, got.pdu.source_addr_ton, got.pdu.source_addr_npi) == ("Parley", 5, 0)


async def test_a_sender_id_that_cannot_be_an_smpp_address_is_rejected(channel: SmppChannel) -> None:
    with pytest.raises(Rejected):
        await channel.send(message(sender="Ünïcode sender"))


async def test_a_throttled_submit_raises_throttled_and_the_next_one_goes_through(
    channel: SmppChannel, smsc: SmscSimulator
) -> None:
    smsc.throttle_next(1)
    with pytest.raises(Throttled) as caught:
        await channel.send(message())
    assert caught.value.retryable

    assert len((await channel.send(message())).carrier_ids) == 1


async def test_an_error_status_raises_rejected_with_the_smpp_code(channel: SmppChannel, smsc: SmscSimulator) -> None:
    smsc.fail_next(1, Status.ESME_RINVDSTADR)
    with pytest.raises(Rejected) as caught:
        await channel.send(message())

    assert caught.value.code == "0x0000000B"
    assert "ESME_RINVDSTADR" in caught.value.reason
    assert not caught.value.retryable


async def test_a_system_error_from_the_smsc_is_retryable(channel: SmppChannel, smsc: SmscSimulator) -> None:
    smsc.fail_next(1, Status.ESME_RSYSERR)
    with pytest.raises(Unreachable):
        await channel.send(message())


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (Status.ESME_RTHROTTLED, Throttled, True),
        (Status.ESME_RMSGQFUL, Throttled, True),
        (Status.ESME_RSYSERR, Unreachable, True),
        (Status.ESME_RX_T_APPN, Unreachable, True),
        (Status.ESME_RINVSRCADR, Rejected, False),
        (Status.ESME_RX_P_APPN, Rejected, False),
        (Status.ESME_RSUBMITFAIL, Rejected, False),
        (0x401, Rejected, False),
    ],
    ids=lambda v: getattr(v, "name", None) or getattr(v, "__name__", None) or str(v),
)
def test_submit_statuses_map_to_the_error_taxonomy(status: int, kind: type, retryable: bool) -> None:
    error = submit_error(status)
    assert type(error) is kind
    assert error.retryable is retryable


async def test_a_window_keeps_many_submits_outstanding_at_once(smsc: SmscSimulator, recorder: Recorder) -> None:
    smsc.delay = 0.05
    ch = make_channel(smsc.port, recorder, window=32)
    await ch.start()
    try:
        await ch.wait_bound(5)
        results = await asyncio.gather(*(ch.send(message(f"n{i}")) for i in range(32)))
    finally:
        await ch.stop()

    assert len({r.carrier_ids for r in results}) == 32
    assert smsc.max_outstanding > 1


async def test_the_window_caps_outstanding_submits(smsc: SmscSimulator, recorder: Recorder) -> None:
    smsc.delay = 0.02
    ch = make_channel(smsc.port, recorder, window=4)
    await ch.start()
    try:
        await ch.wait_bound(5)
        await asyncio.gather(*(ch.send(message(f"n{i}")) for i in range(16)))
    finally:
        await ch.stop()

    assert 1 < smsc.max_outstanding <= 4


async def test_a_throughput_limit_still_sends_everything(smsc: SmscSimulator, recorder: Recorder) -> None:
    ch = make_channel(smsc.port, recorder, throughput=500.0)
    await ch.start()
    try:
        await ch.wait_bound(5)
        await asyncio.gather(*(ch.send(message(f"n{i}")) for i in range(10)))
    finally:
        await ch.stop()

    assert len(smsc.received) == 10


# --- receipts and MO -----------------------------------------------------------------------------


async def test_a_receipt_reaches_on_receipt_with_the_carrier_id(
    channel: SmppChannel, smsc: SmscSimulator, recorder: Recorder
) -> None:
    sent = await channel.send(message())
    await wait_until(lambda: len(recorder.receipts) == 1)

    [receipt] = recorder.receipts
    assert (receipt.carrier_id, receipt.state, receipt.stat) == (sent.carrier_ids[0], "delivered", "DELIVRD")
    await smsc.wait_for(lambda: smsc.deliver_responses == [Status.ESME_ROK])


async def test_an_undelivered_receipt_in_tlvs_reaches_on_receipt(
    channel: SmppChannel, smsc: SmscSimulator, recorder: Recorder
) -> None:
    smsc.receipt_stat, smsc.receipt_tlvs = "UNDELIV", True
    sent = await channel.send(message())
    await wait_until(lambda: len(recorder.receipts) == 1)

    assert (recorder.receipts[0].carrier_id, recorder.receipts[0].state) == (
        sent.carrier_ids[0],
        "undelivered",
    )


async def test_a_receipt_arriving_before_the_submit_response_still_reaches_on_receipt(
    channel: SmppChannel, smsc: SmscSimulator, recorder: Recorder
) -> None:
    smsc.receipt_before_resp, smsc.delay = True, 0.05
    recorded = asyncio.Event()

    async def until_recorded() -> None:
        # The store can only match the receipt once send() returned: the callback waits for that, which
        # would deadlock if the channel read the submit_sm_resp only after the callback finished.
        await recorded.wait()

    recorder.before_receipt = until_recorded
    sent = await channel.send(message())
    recorded.set()
    await wait_until(lambda: len(recorder.receipts) == 1)

    assert recorder.receipts[0].carrier_id == sent.carrier_ids[0]


async def test_a_failing_receipt_callback_asks_the_smsc_to_redeliver(
    channel: SmppChannel, smsc: SmscSimulator, recorder: Recorder
) -> None:
    recorder.fail_next = 1
    await channel.send(message())

    await smsc.wait_for(lambda: smsc.deliver_responses == [Status.ESME_RX_T_APPN])
    assert recorder.receipts == []


async def test_an_mo_message_reaches_on_inbound_with_e164_numbers(
    channel: SmppChannel, smsc: SmscSimulator, recorder: Recorder
) -> None:
    smsc.send_mo("+447700900123", "+15550100", "Hi there, ça va?")
    await wait_until(lambda: len(recorder.inbound) == 1)

    [mo] = recorder.inbound
    assert (mo.sender, mo.to, mo.text, mo.extra) == ("+447700900123", "+15550100", "Hi there, ça va?", {})
    await smsc.wait_for(lambda: smsc.deliver_responses == [Status.ESME_ROK])


async def test_a_concatenated_mo_arrives_as_parts_carrying_their_udh(
    channel: SmppChannel, smsc: SmscSimulator, recorder: Recorder
) -> None:
    parts = smsc.send_mo("+447700900123", "+15550100", UCS2_LONG)
    await wait_until(lambda: len(recorder.inbound) == parts)

    ordered = sorted(recorder.inbound, key=lambda mo: int(mo.extra["concat_seq"]))
    assert "".join(mo.text for mo in ordered) == UCS2_LONG
    assert {mo.extra["concat_total"] for mo in ordered} == {str(parts)}
    assert len({mo.extra["concat_ref"] for mo in ordered}) == 1


async def test_a_failing_inbound_callback_asks_the_smsc_to_redeliver(
    channel: SmppChannel, smsc: SmscSimulator, recorder: Recorder
) -> None:
    recorder.fail_next = 1
    smsc.send_mo("+447700900123", "+15550100", "Hi")

    await smsc.wait_for(lambda: smsc.deliver_responses == [Status.ESME_RX_T_APPN])


@pytest.mark.parametrize(
    ("data_coding", "data", "text"),
    [
        (0x00, b"\x00\x1b\x65", "@€"),
        (0xF1, b"Hi", "Hi"),
        (0x08, "Ж👋".encode("utf-16-be"), "Ж👋"),
        (0x03, "é".encode("latin-1"), "é"),
        (0x01, b"plain", "plain"),
        (0x04, b"\xff", "\xff"),
    ],
    ids=["gsm7", "gsm7-with-class", "ucs2", "latin1", "ia5", "binary"],
)
def test_mo_text_is_decoded_by_data_coding(data_coding: int, data: bytes, text: str) -> None:
    assert decode_text(data, data_coding) == text


def test_an_mo_part_concatenated_with_sar_tlvs_says_which_part_it_is() -> None:
    pdu = DeliverSm(
        source_addr="2025550143",
        source_addr_ton=0,
        destination_addr="PARLEY",
        dest_addr_ton=5,
        short_message=b"part two",
        tlvs={
            Tag.SAR_MSG_REF_NUM: b"\x01\x02",
            Tag.SAR_TOTAL_SEGMENTS: b"\x02",
            Tag.SAR_SEGMENT_SEQNUM: b"\x02",
        },
    )
    mo = parse_mo(pdu, "US")
    assert (mo.sender, mo.to, mo.text) == ("+12025550143", "PARLEY", "part two")
    assert mo.extra == {"concat_ref": "258", "concat_total": "2", "concat_seq": "2"}


def test_an_mo_with_a_broken_udh_is_kept_whole() -> None:
    mo = parse_mo(
        DeliverSm(source_addr="447700900123", source_addr_ton=1, esm_class=0x40, short_message=b"\x09ab"),
        "US",
    )
    assert (mo.sender, mo.text, mo.extra) == ("+447700900123", "Çab", {})  # GSM 03.38: 0x09 is Ç


# --- the connection ------------------------------------------------------------------------------


async def test_an_enquire_link_from_the_smsc_is_answered(channel: SmppChannel, smsc: SmscSimulator) -> None:
    smsc.send_enquire_link()
    await smsc.wait_for(lambda: smsc.enquire_link_resps == 1)


async def test_an_idle_bind_sends_enquire_link(smsc: SmscSimulator, recorder: Recorder) -> None:
    ch = make_channel(smsc.port, recorder, enquire_link_interval=0.05)
    await ch.start()
    try:
        await smsc.wait_for(lambda: smsc.enquire_links >= 2)
        assert ch.state == "bound"
    finally:
        await ch.stop()


async def test_an_unanswered_enquire_link_drops_the_connection_and_rebinds(
    smsc: SmscSimulator, recorder: Recorder
) -> None:
    smsc.answer_enquire_link = False
    ch = make_channel(smsc.port, recorder, enquire_link_interval=0.05, response_timeout=0.1)
    await ch.start()
    try:
        await smsc.wait_for(lambda: smsc.binds >= 2)
    finally:
        await ch.stop()


async def test_a_dropped_connection_is_rebound_and_sending_works_again(
    channel: SmppChannel, smsc: SmscSimulator
) -> None:
    smsc.drop_connections()
    await smsc.wait_for(lambda: smsc.binds == 2)
    await channel.wait_bound(5)

    assert len((await channel.send(message())).carrier_ids) == 1


async def test_a_submit_in_flight_when_the_connection_drops_fails_retryably(
    channel: SmppChannel, smsc: SmscSimulator
) -> None:
    smsc.disconnect_after(0)
    with pytest.raises(Unreachable) as caught:
        await channel.send(message())
    assert caught.value.retryable

    await smsc.wait_for(lambda: smsc.binds == 2)
    await channel.wait_bound(5)
    assert len((await channel.send(message())).carrier_ids) == 1


async def test_a_malformed_pdu_from_the_smsc_drops_the_connection_and_rebinds(
    channel: SmppChannel, smsc: SmscSimulator
) -> None:
    smsc.send_malformed()
    await smsc.wait_for(lambda: smsc.binds == 2)
    await channel.wait_bound(5)

    assert len((await channel.send(message())).carrier_ids) == 1


async def test_sending_while_the_smsc_is_down_raises_unreachable_quickly(recorder: Recorder) -> None:
    ch = make_channel(free_port(), recorder, bind_wait=0.2)
    await ch.start()  # must not raise
    try:
        async with asyncio.timeout(2):  # bind_wait is 0.2 s: a generous bound against hanging, not a benchmark
            with pytest.raises(Unreachable):
                await ch.send(message())
        assert ch.state in ("connecting", "down")
        await wait_until(lambda: ch.last_error is not None)
    finally:
        await ch.stop()


async def test_sending_before_start_raises_unreachable(recorder: Recorder) -> None:
    with pytest.raises(Unreachable):
        await make_channel(free_port(), recorder).send(message())


async def test_a_wrong_password_leaves_the_channel_down_with_the_reason(
    smsc: SmscSimulator, recorder: Recorder
) -> None:
    smsc.password = "other"
    ch = make_channel(smsc.port, recorder)
    await ch.start()
    try:
        await smsc.wait_for(lambda: smsc.bind_failures >= 1)
        await wait_until(lambda: ch.last_error is not None and "ESME_RINVPASWD" in ch.last_error)
        assert ch.state != "bound"
    finally:
        await ch.stop()


async def test_stop_unbinds_and_closes_the_connection(smsc: SmscSimulator, recorder: Recorder) -> None:
    ch = make_channel(smsc.port, recorder)
    await ch.start()
    await ch.wait_bound(5)
    await ch.stop()

    await smsc.wait_for(lambda: smsc.bound_sessions == 0)
    assert ch.state == "down"


async def test_the_password_never_appears_in_the_logs(smsc: SmscSimulator, recorder: Recorder) -> None:
    smsc.password = "other"  # the first binds fail: failure paths log the most
    with structlog.testing.capture_logs() as logs:
        ch = make_channel(smsc.port, recorder)
        await ch.start()
        try:
            await smsc.wait_for(lambda: smsc.bind_failures >= 1)
            smsc.password = PASSWORD
            await smsc.wait_for(lambda: smsc.binds >= 1)
            await ch.wait_bound(5)
            await ch.send(message())
            smsc.drop_connections()
            await smsc.wait_for(lambda: smsc.binds >= 2)
        finally:
            await ch.stop()

    assert any(entry["event"] == "smpp.bind_failed" for entry in logs)
    assert any(entry["event"] == "smpp.bound" for entry in logs)
    assert PASSWORD not in repr(logs)
    assert PASSWORD not in repr(ch)
