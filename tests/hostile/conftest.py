"""A provisioned `parley serve` on a PostgreSQL database of its own, shared by a module's hostile-input tests.

PostgreSQL is where most of these findings were: it refuses a NUL in text and holds 32-bit integers, where SQLite
takes both. One server per module keeps the suite fast: these tests only read, or write rows of their own.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import asyncpg
import pytest

from tests.conftest import PG_ADMIN_URL
from tests.support.provisioning import document
from tests.support.server import ParleyServer

TWILIO_TOKEN = "twilio-auth-token-123"
WEBHOOK_SECRET = "a-shared-secret-of-32-characters"
MAIL2SMS_PASSWORD = "wildix-pass"
ADMIN = ("101", "sms101api")  # Alice, an admin (tests/support/provisioning.py)
USER = ("102", "bob-secret")  # Bob, a plain user


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def pg_server(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParleyServer]:
    name = f"parley_hostile_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    server = ParleyServer(tmp_path_factory.mktemp("hostile"), f"{pg_database.rsplit('/', 1)[0]}/{name}")
    try:
        server.apply(
            document(
                webhooks={"twilio_auth_token": TWILIO_TOKEN, "secret": WEBHOOK_SECRET},
                mail2sms={"enabled": True, "password": MAIL2SMS_PASSWORD},
            )
        )
        asyncio.run(server.start("--no-workers"))
        yield server
    finally:
        server.stop()
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
