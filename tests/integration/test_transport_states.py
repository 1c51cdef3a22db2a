"""Transport state across processes, on SQLite and PostgreSQL: what workers report, any process can show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from parley.services.transports import REPORT_FRESH, Transports
from parley.store.db import Database
from tests.conftest import Clock
from tests.support.provisioning import provision


class Channel:
    def __init__(self, name: str, state: str, last_error: str | None = None) -> None:
        self.name, self.state, self.last_error = name, state, last_error

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


SMPP = {"name": "carrier", "role": "carrier", "kind": "smpp", "host": "127.0.0.1", "port": 1, "system_id": "parley",
        "password": "secret"}  # fmt: skip


def worker(db: Database, name: str, state: str, last_error: str | None = None) -> Transports:
    def make(row: Any) -> Any:
        return Channel(row.name, state, last_error)

    return Transports(db, make, worker=name)


async def test_an_api_only_process_sees_what_the_workers_report(db: Database, clock: Clock) -> None:
    await provision(db, clock(), transports=[SMPP])
    api_only = worker(db, "api-host:1", "never-started")  # `serve --no-workers`: never started
    one = worker(db, "host-a:10", "bound")
    two = worker(db, "host-b:20", "connecting", "connection refused")
    await one.start()
    await two.start()
    now = datetime.now(UTC)

    seen = await api_only.cluster_status(now)
    assert seen["carrier"]["state"] == "bound"  # bound if any worker is
    assert seen["carrier"]["workers"] == {"host-a:10": "bound", "host-b:20": "connecting"}
    assert seen["carrier"]["last_error"] == "connection refused"

    await one.stop()
    await one.report(now)  # a worker that stops takes its report with it
    assert (await api_only.cluster_status(now))["carrier"]["workers"] == {"host-b:20": "connecting"}
    assert (await api_only.cluster_status(now))["carrier"]["state"] == "connecting"

    # A worker that died without a word goes stale.
    assert await api_only.cluster_status(now + REPORT_FRESH + timedelta(seconds=1)) == {}


async def test_a_process_that_runs_no_workers_reports_nothing(db: Database, clock: Clock) -> None:
    await provision(db, clock(), transports=[SMPP])
    api_only = worker(db, "api-host:1", "bound")
    await api_only.report(datetime.now(UTC))
    assert await api_only.cluster_status(datetime.now(UTC)) == {}
