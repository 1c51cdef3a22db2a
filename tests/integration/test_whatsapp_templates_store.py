"""The synced templates table on SQLite and PostgreSQL: a sync's result replaces the account's list, others kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from parley.core.whatsapp_templates import TemplateRow
from parley.store import whatsapp_templates as store
from parley.store.db import Database

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def template(name: str, status: str = "approved", waba: str = "w1", at: datetime = T0) -> TemplateRow:
    body = {"type": "BODY", "text": f"{name} {{{{1}}}}.", "variables": 1}
    return TemplateRow(waba, name, "en_US", "utility", status, (body,), meta_id=f"id-{name}", synced_at=at)


async def test_a_sync_upserts_what_is_listed_and_deletes_what_is_gone(db: Database) -> None:
    async with db.write() as conn:
        assert await store.replace(conn, "w1", [template("a"), template("b", "pending"), template("c")]) == (3, 0)
        assert await store.replace(conn, "w2", [template("a", waba="w2")]) == (1, 0)
    later = T0 + timedelta(minutes=15)
    async with db.write() as conn:
        assert await store.replace(conn, "w1", [template("b", "approved", at=later), template("d", at=later)]) == (2, 2)
    async with db.read() as conn:
        mine = await store.list_(conn, ["w1"])
        approved = await store.list_(conn, status="approved")
        found = await store.find(conn, "w1", "b", "en_US")
        assert await store.find(conn, "w1", "a", "en_US") is None
    assert [(t.name, t.status) for t in mine] == [("b", "approved"), ("d", "approved")]
    assert [(t.waba_id, t.name) for t in approved] == [("w2", "a"), ("w1", "b"), ("w1", "d")]
    assert found is not None and found.synced_at == later and found.components[0]["variables"] == 1


async def test_two_workers_syncing_at_once_do_not_collide(db: Database) -> None:
    async def sync() -> None:
        async with db.write() as conn:
            await store.replace(conn, "w1", [template(f"t{i}") for i in range(30)])

    await asyncio.gather(sync(), sync())
    async with db.read() as conn:
        assert len(await store.list_(conn, ["w1"])) == 30
