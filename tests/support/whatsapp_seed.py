"""What a template sync (and a customer's STOP) would have stored, written into a server's database before it starts:
for tests of WhatsApp campaigns that do not test the sync itself."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from parley.store import blocklist
from parley.store.db import Database
from parley.store.tables import whatsapp_templates


def seed(database_url: str, waba_id: str, templates: dict[str, str], *, opted_out: tuple[str, ...] = ()) -> None:
    """Approved templates (name -> body text, en_US) of ``waba_id``, and numbers on the blocklist."""

    async def write() -> None:
        db = Database(database_url)
        now = datetime.now(UTC)
        try:
            async with db.write() as conn:
                for name, text in templates.items():
                    await conn.execute(
                        whatsapp_templates.insert().values(
                            waba_id=waba_id, name=name, language="en_US", category="marketing", status="approved",
                            components=[{"type": "BODY", "text": text}], synced_at=now,
                        )
                    )  # fmt: skip
                for number in opted_out:
                    await blocklist.add(conn, number, reason="opt-out: STOP", by=None, now=now)
        finally:
            await db.close()

    # Called from async tests: the writes get a loop of their own in a thread of their own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, write()).result()
