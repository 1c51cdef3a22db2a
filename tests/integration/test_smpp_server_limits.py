"""Parley's SMPP server against peers that flood or never read: bounded work in hand, dropped when stuck."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

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
