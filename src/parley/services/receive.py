"""Inbound messages (MO): stored first, durably, before the peer is answered; routed afterwards.

Each stored message gets a `route` job in the same transaction, so a crash between storing and routing
only delays routing. Concatenated parts (UDH or SAR) are kept until the last one arrives, then joined.
A message the carrier delivers twice (same carrier id on the same transport) is stored once.

What a carrier sends is never refused for its content (refusing makes it deliver again, for ever): a control
character or a lone surrogate, which the database cannot store or which no one meant, is replaced by U+FFFD and the
message keeps a note of it in its ``error`` (`core.characters.clean`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.channels.base import Inbound
from parley.core.characters import clean
from parley.core.text import split
from parley.metrics import INBOUND
from parley.services.batching import GroupCommitter
from parley.store import messages, queue
from parley.store.db import Database
from parley.store.ids import new_id
from parley.store.tables import inbound_parts
from parley.store.tables import messages as messages_table

LINGER = 0.002  # seconds a group commit of inbound messages waits for more to join it


# A concatenated part whose text was cleaned is kept in `inbound_parts` behind this mark, so that the whole message
# still gets its note when the last part arrives. Cleaned text never holds a control character, so it is unambiguous.
_CLEANED_PART = "\x01"


@dataclass(frozen=True)
class _Item:
    transport: str
    inbound: Inbound
    source: str
    note: str | None = None  # what cleaning replaced, if anything


def _cleaned(transport: str, inbound: Inbound, source: str) -> _Item:
    """The item with its text and addresses made storable (see the module docstring)."""
    text = clean(inbound.text)
    sender, to = (clean(inbound.sender).text, clean(inbound.to).text)
    carrier_id = clean(inbound.carrier_id).text if inbound.carrier_id else inbound.carrier_id
    extra = {clean(k).text: clean(v).text for k, v in inbound.extra.items()}
    if (text.text, sender, to, carrier_id, extra) == (inbound.text, inbound.sender, inbound.to, inbound.carrier_id,
                                                      inbound.extra):  # fmt: skip
        return _Item(transport, inbound, source)
    cleaned = replace(inbound, text=text.text, sender=sender, to=to, carrier_id=carrier_id, extra=extra)
    note = text.note or "the carrier's addresses held characters that could not be stored (replaced by U+FFFD)"
    return _Item(transport, cleaned, source, note)


class Inbox:
    def __init__(
        self, db: Database, clock: Callable[[], datetime], *, on_stored: Callable[[], None] = lambda: None
    ) -> None:
        self._db = db
        self._clock = clock
        self._on_stored = on_stored
        self._committer: GroupCommitter[_Item, str | None] = GroupCommitter(self._write, linger=LINGER)

    async def receive(self, transport: str, inbound: Inbound, *, source: str = "smpp") -> str | None:
        """Store one inbound message (or part); returns the message id, None for a part still waiting."""
        message_id = await self._committer.submit(_cleaned(transport, inbound, source))
        INBOUND.labels(transport).inc()
        self._on_stored()
        return message_id

    async def _write(self, items: list[_Item]) -> list[str | None]:
        """Store a group-commit batch: one INSERT for its messages, one for their route jobs."""
        now = self._clock()
        # Ids sort by creation time; within one batch they are handed out in arrival order, so that the
        # router (which routes in id order) keeps a customer's messages in the order they came.
        ids = iter(sorted(new_id() for _ in items))
        results: list[str | None] = []
        rows: list[dict[str, Any]] = []
        async with self._db.write() as conn:
            known = await self._known(conn, items)
            for item in items:
                inbound = item.inbound
                key = (item.transport, inbound.carrier_id or "")
                if inbound.carrier_id and key in known:
                    results.append(known[key])
                    continue
                text: str | None = inbound.text
                note = item.note
                if "concat_ref" in inbound.extra:
                    text, note = await self._join_parts(conn, item, now)
                if text is None:
                    results.append(None)
                    continue
                row = _row(item, text, next(ids), now)
                row["error"] = note
                if inbound.carrier_id:
                    known[key] = row["id"]  # the same message twice in one batch: stored once
                rows.append(row)
                results.append(row["id"])
            await messages.add_all(conn, rows)
            await queue.enqueue_many(conn, [(r["id"], now) for r in rows], kind="route")
        return results

    async def _known(self, conn: AsyncConnection, items: list[_Item]) -> dict[tuple[str, str], str]:
        """Messages already stored under the batch's carrier ids, by (transport, carrier id)."""
        wanted = {(i.transport, i.inbound.carrier_id) for i in items if i.inbound.carrier_id}
        if not wanted:
            return {}
        query = sa.select(messages_table.c.id, messages_table.c.transport, messages_table.c.carrier_id).where(
            messages_table.c.transport.in_(sorted({t for t, _ in wanted})),
            messages_table.c.carrier_id.in_(sorted({c for _, c in wanted})),
        )
        rows = (await conn.execute(query)).all()
        return {(r.transport, r.carrier_id): str(r.id) for r in rows if (r.transport, r.carrier_id) in wanted}

    async def _join_parts(self, conn: AsyncConnection, item: _Item, now: datetime) -> tuple[str | None, str | None]:
        """Keep one part; when all parts of the message are here, return the whole text (in order) and the note
        of its cleaning (None when no part was cleaned)."""
        inbound = item.inbound
        ref, total, seq = (int(inbound.extra[k]) for k in ("concat_ref", "concat_total", "concat_seq"))
        key = (
            inbound_parts.c.transport == item.transport,
            inbound_parts.c.sender == inbound.sender[:32],
            inbound_parts.c.reference == ref,
        )
        present = await conn.scalar(sa.select(sa.func.count()).where(*key, inbound_parts.c.seq == seq))
        if not present:
            await conn.execute(
                inbound_parts.insert().values(
                    transport=item.transport,
                    sender=inbound.sender[:32],
                    reference=ref,
                    seq=seq,
                    total=total,
                    recipient=inbound.to[:32],
                    text=_CLEANED_PART + inbound.text if item.note else inbound.text,
                    received_at=now,
                )
            )
        parts = (await conn.execute(sa.select(inbound_parts.c.seq, inbound_parts.c.text).where(*key))).all()
        if len({p.seq for p in parts}) < total:
            return None, None
        await conn.execute(inbound_parts.delete().where(*key))
        texts = [str(p.text) for p in sorted(parts, key=lambda p: p.seq)]
        cleaned = [t.startswith(_CLEANED_PART) for t in texts]
        text = "".join(t[1:] if c else t for t, c in zip(texts, cleaned, strict=True))
        if not any(cleaned):
            return text, None
        return text, (
            f"characters the carrier sent in {sum(cleaned)} of {total} parts could not be stored "
            f"and were replaced by U+FFFD"
        )

    async def close(self) -> None:
        await self._committer.close()


def _row(item: _Item, text: str, message_id: str, now: datetime) -> dict[str, Any]:
    inbound = item.inbound
    segments = split(text)
    return {
        "id": message_id, "direction": "in", "user_id": None, "sender": inbound.sender[:32],
        "recipient": inbound.to[:32], "body": text, "status": "received", "segments": segments.count,
        "encoding": segments.encoding.value, "gsm": None, "transport": item.transport, "error": None,
        "charge": None, "currency": None, "source": item.source, "send_at": None, "conversation_id": None,
        "bot": None, "carrier_id": inbound.carrier_id, "created_at": inbound.received_at or now, "updated_at": now,
    }  # fmt: skip
