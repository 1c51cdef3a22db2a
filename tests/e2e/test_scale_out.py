"""Scale-out on PostgreSQL: API-only servers and several workers sharing one database."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from parley.store.db import Database
from parley.store.tables import messages
from tests.support.provisioning import document
from tests.support.server import ParleyServer, wait_until
from tests.support.smsc import SmscSimulator

pytestmark = pytest.mark.postgres


async def _statuses(url: str) -> dict[str, int]:
    db = Database(url)
    try:
        async with db.read() as conn:
            rows = (await conn.execute(sa.select(messages.c.status, sa.func.count()).group_by(messages.c.status))).all()
    finally:
        await db.close()
    return {r[0]: r[1] for r in rows}


async def test_a_worker_killed_mid_run_loses_nothing_and_two_others_share_the_rest(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    async with SmscSimulator(port=0, system_id="parley", password="secret", delay=0.01) as smsc:
        parley = ParleyServer(
            tmp_path,
            database_url=fresh_pg_url,
            extra_env={"PARLEY_LEASE_SECONDS": "3", "PARLEY_RETRY_BASE_SECONDS": "0.2"},
        )
        transport = {"name": "carrier", "role": "carrier", "kind": "smpp", "host": "127.0.0.1", "port": smsc.port,
                     "system_id": "parley", "password": "secret"}  # fmt: skip
        parley.apply(document(transports=[transport]))
        await parley.start("--no-workers")
        try:
            numbers = [f"+1555{i:07d}" for i in range(600)]
            async with httpx.AsyncClient(base_url=parley.url, auth=("101", "sms101api")) as client:
                for start in range(0, len(numbers), 100):
                    response = await client.post(
                        "/api/v1/originate/sms",
                        data={"number": ",".join(numbers[start : start + 100]), "message": "hi"},
                    )
                    assert response.json()["type"] == "result"
            doomed = parley.spawn_worker()
            await smsc.wait_for(lambda: len(smsc.received) >= 50, timeout=60)
            doomed.kill()  # kill -9 with messages in flight: their leases run out, another worker takes over
            parley.spawn_worker()
            parley.spawn_worker()  # two workers share what is left
            await wait_until(lambda: _all_delivered(fresh_pg_url, len(numbers)), timeout=90)
            received = {"+" + s.pdu.destination_addr for s in smsc.received}
            assert received == set(numbers)
            assert smsc.binds >= 2  # the killed worker and at least one that took over
        finally:
            await parley.close()


async def _all_delivered(url: str, n: int) -> bool:
    return (await _statuses(url)).get("delivered", 0) == n
