"""What a customer's STOP would have stored, written into a server's database before it starts: for tests of
WhatsApp campaigns that do not test opting out itself."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx

from parley.store import blocklist
from parley.store.db import Database
from tests.support.server import ParleyServer, wait_until


def opt_out(server: ParleyServer, *numbers: str) -> None:
    """Put ``numbers`` on the blocklist as opted out."""

    async def write() -> None:
        db = Database(server.env["PARLEY_DATABASE_URL"])
        try:
            async with db.write() as conn:
                for number in numbers:
                    await blocklist.add(conn, number, reason="opt-out: STOP", by=None, now=datetime.now(UTC))
        finally:
            await db.close()

    # Called from async tests: the writes get a loop of their own in a thread of their own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, write()).result()


async def synced(server: ParleyServer, auth: tuple[str, str], approved: int) -> None:
    """Wait until the server's start-up sync has stored ``approved`` approved templates."""

    async def listed() -> bool:
        async with httpx.AsyncClient(base_url=server.url, auth=auth) as client:
            answer = await client.get("/api/v2/whatsapp/templates", params={"status": "approved"})
            return answer.status_code == 200 and len(answer.json()) == approved

    await wait_until(listed, timeout=20)
