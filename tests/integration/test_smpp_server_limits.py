"""Parley's SMPP server against peers that flood or never read: bounded work in hand, dropped when stuck."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.channels.smpp_pdu import (
    BindTransmitter,
    EnquireLink,
    SubmitSm,
    encode,
)
from parley.ingress.smpp_server import SmppServer
from parley.services.smpp_applications import Account

WINDOW = 4


class StuckApplications:
    """Binds anyone; every submit waits until ``release`` is set."""

    def __init__(self) -> None:
        self.submits = 0
        self.release = asyncio.Event()

    async def bind(self, system_id: str, password: str, address: str) -> Account:
        return Account(system_id, 1, "101", 10_000)

    async def submit(self, account: Account, sub: Any) -> str:
        self.submits += 1
        await self.release.wait()
        return "id"


@pytest.fixture
async def served() -> AsyncIterator[tuple[SmppServer, StuckApplications]]:
    apps = StuckApplications()
    server = SmppServer(apps, "127.0.0.1", 0, window=WINDOW, response_timeout=0.5)  # type: ignore[arg-type]
    await server.start()
    try:
        yield server, apps
    finally:
        apps.release.set()
        await server.stop()


async def until(predicate: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_a_flood_of_submits_holds_only_a_window_of_them(served: tuple[SmppServer, StuckApplications]) -> None:
    server, apps = served
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(encode(BindTransmitter(sequence_number=1, system_id="crm", password="pw")))
    await reader.readexactly(16 + len("parley") + 1)
    submit = SubmitSm(destination_addr="15557654321", dest_addr_ton=1, short_message=b"x")
    writer.write(b"".join(encode(SubmitSm(**{**submit.__dict__, "sequence_number": n})) for n in range(2, 500)))
    await until(lambda: apps.submits == WINDOW)
    with contextlib.suppress(TimeoutError):  # nothing more is taken while the window is full
        await until(lambda: apps.submits > WINDOW, timeout=0.3)
    assert apps.submits == WINDOW
    apps.release.set()
    await until(lambda: apps.submits == 498)
    writer.close()


async def test_a_peer_that_never_reads_is_dropped(served: tuple[SmppServer, StuckApplications]) -> None:
    server, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(encode(BindTransmitter(sequence_number=1, system_id="crm", password="pw")))
    await reader.readexactly(16 + len("parley") + 1)
    links = b"".join(encode(EnquireLink(sequence_number=n)) for n in range(2, 20_000))
    dropped = False
    async with asyncio.timeout(30):
        while not dropped:  # write and never read: the answers pile up unread until the server gives up
            try:
                writer.write(links)
                await writer.drain()
            except (ConnectionError, OSError):
                dropped = True
            if writer.transport.is_closing() or reader.at_eof():
                dropped = True
    assert dropped


async def _throw(data: bytes) -> bool:
    """Send ``data`` on one connection, then check that a fresh bind is still answered."""
    apps = StuckApplications()
    apps.release.set()
    server = SmppServer(apps, "127.0.0.1", 0, window=WINDOW, response_timeout=0.5, bind_timeout=2)  # type: ignore[arg-type]
    await server.start()
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(data)
        with contextlib.suppress(ConnectionError, OSError):
            await writer.drain()
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(encode(BindTransmitter(sequence_number=1, system_id="crm", password="pw")))
        head = await asyncio.wait_for(reader.readexactly(16), 5)
        writer.close()
        return head[4:8] == b"\x80\x00\x00\x02"
    finally:
        await server.stop()


@settings(max_examples=40, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.builds(
            lambda body, cid: len(body + b"x" * 12).to_bytes(4, "big") + cid + bytes(8) + body,
            st.binary(max_size=200),
            st.sampled_from([b"\0\0\0\x04", b"\0\0\0\x09", b"\0\0\0\x15", b"\0\0\0\x99"]),
        ),
    )
)
def test_whatever_a_peer_sends_the_server_goes_on_serving(data: bytes) -> None:
    """Fuzz: random bytes and random bodies behind real headers never take the server down."""
    assert asyncio.run(_throw(data))
