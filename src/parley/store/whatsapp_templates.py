"""The synced WhatsApp templates of each WhatsApp Business Account (``whatsapp_templates``).

A sync replaces an account's list whole: rows it lists are upserted (``INSERT … ON CONFLICT DO UPDATE``, which
SQLite and PostgreSQL both have, so two workers syncing at once never collide), rows it no longer lists deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.whatsapp_templates import TemplateRow
from parley.store.tables import whatsapp_templates as table

KEY = ("waba_id", "name", "language")


def _values(row: TemplateRow) -> dict[str, Any]:
    return {
        "waba_id": row.waba_id,
        "name": row.name,
        "language": row.language,
        "meta_id": row.meta_id,
        "category": row.category,
        "status": row.status,
        "components": [dict(c) for c in row.components],
        "reason": row.reason,
        "synced_at": row.synced_at,
    }


def _row(record: Any) -> TemplateRow:
    components = record.components if isinstance(record.components, list) else []
    return TemplateRow(
        waba_id=record.waba_id,
        name=record.name,
        language=record.language,
        category=record.category,
        status=record.status,
        components=tuple(c for c in components if isinstance(c, dict)),
        meta_id=record.meta_id,
        reason=record.reason,
        synced_at=record.synced_at,
    )


async def upsert(conn: AsyncConnection, rows: Sequence[TemplateRow]) -> None:
    """Insert the rows, or update those whose (account, name, language) is there."""
    if not rows:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    query = insert(table).values([_values(r) for r in rows])
    updated = {c: query.excluded[c] for c in ("meta_id", "category", "status", "components", "reason", "synced_at")}
    await conn.execute(query.on_conflict_do_update(index_elements=list(KEY), set_=updated))


async def replace(conn: AsyncConnection, waba_id: str, rows: Sequence[TemplateRow]) -> tuple[int, int]:
    """Make the account's templates exactly ``rows``; returns (how many stored, how many removed)."""
    mine = [r for r in rows if r.waba_id == waba_id]
    unique = list({(r.name, r.language): r for r in mine}.values())  # Meta listing one twice: the last wins
    for start in range(0, len(unique), 500):
        await upsert(conn, unique[start : start + 500])
    kept = {(r.name, r.language) for r in unique}
    present = (await conn.execute(sa.select(table.c.name, table.c.language).where(table.c.waba_id == waba_id))).all()
    gone = [(p.name, p.language) for p in present if (p.name, p.language) not in kept]
    for name, language in gone:
        await conn.execute(
            table.delete().where(table.c.waba_id == waba_id, table.c.name == name, table.c.language == language)
        )
    return len(unique), len(gone)


async def list_(
    conn: AsyncConnection, waba_ids: Sequence[str] | None = None, *, status: str | None = None
) -> list[TemplateRow]:
    """Templates by account (all when None), optionally of one status, by name then language."""
    query = sa.select(table).order_by(table.c.name, table.c.language, table.c.waba_id)
    if waba_ids is not None:
        query = query.where(table.c.waba_id.in_(list(waba_ids)))
    if status is not None:
        query = query.where(table.c.status == status)
    return [_row(r) for r in (await conn.execute(query)).all()]


async def find(conn: AsyncConnection, waba_id: str, name: str, language: str) -> TemplateRow | None:
    query = sa.select(table).where(table.c.waba_id == waba_id, table.c.name == name, table.c.language == language)
    record = (await conn.execute(query)).first()
    return _row(record) if record is not None else None
