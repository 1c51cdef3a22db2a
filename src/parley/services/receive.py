"""Inbound messages (MO): stored first, durably, before the peer is answered; routed afterwards.

Each stored message gets a `route` job in the same transaction, so a crash between storing and routing
only delays routing. Concatenated parts (UDH or SAR) are kept until the last one arrives, then joined
(`services/reassembly.py`; parts that stay incomplete past the expiry are stored marked incomplete).
A message the carrier delivers twice (same carrier id on the same transport, within `DEDUP_WINDOW`) is
stored once; carriers reuse ids, so the same id later is a new message.

What a carrier sends is never refused for its content (refusing makes it deliver again, for ever): a control
character or a lone surrogate, which the database cannot store or which no one meant, is replaced by U+FFFD and the
message keeps a note of it in its ``error`` (`core.characters.clean`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.channels.base import Inbound
from parley.core.characters import clean
from parley.core.text import split
from parley.metrics import INBOUND
from parley.services import reassembly
from parley.services.batching import GroupCommitter
from parley.store import media, messages, queue
from parley.store.db import Database
from parley.store.ids import new_id
from parley.store.tables import messages as messages_table

LINGER = 0.002  # seconds a group commit of inbound messages waits for more to join it
DEDUP_WINDOW = timedelta(hours=24)  # the same carrier id later than this is a new message (SMSCs reuse ids)


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
    given = inbound.extra.get("note")  # what the ingress already set aside (a webhook's impossible date)
    if (text.text, sender, to, carrier_id, extra) == (inbound.text, inbound.sender, inbound.to, inbound.carrier_id,
                                                      inbound.extra):  # fmt: skip
        return _Item(transport, inbound, source, given)
    cleaned = replace(inbound, text=text.text, sender=sender, to=to, carrier_id=carrier_id, extra=extra)
    note = text.note or "the carrier's addresses held characters that could not be stored (replaced by U+FFFD)"
    return _Item(transport, cleaned, source, f"{given}; {note}" if given else note)


def _marked(inbound: Inbound, note: str | None) -> Inbound:
    """A part to hold, its text behind `_CLEANED_PART` when cleaning changed it (see `_unmarked`)."""
    return replace(inbound, text=_CLEANED_PART + inbound.text) if note else inbound


def _unmarked(text: str, note: str | None, total: int | None = None) -> tuple[str, str | None]:
    """Joined parts without their marks, and the note saying how many of ``total`` parts were cleaned."""
    if _CLEANED_PART not in text:
        return text, note
    cleaned = text.count(_CLEANED_PART)
    of = f" of {max(cleaned, total)}" if total else ""
    cleaning = f"characters the carrier sent in {cleaned}{of} parts could not be stored and were replaced by U+FFFD"
    return text.replace(_CLEANED_PART, ""), f"{note}; {cleaning}" if note else cleaning


class Inbox:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        on_stored: Callable[[], None] = lambda: None,
        on_media: Callable[[], None] = lambda: None,
        part_expiry: timedelta = timedelta(hours=24),
    ) -> None:
        self._db = db
        self._clock = clock
        self._on_stored = on_stored
        self._on_media = on_media  # attachments are waiting to be fetched
        self._part_expiry = part_expiry
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
        attachments: list[dict[str, Any]] = []
        async with self._db.write() as conn:
            known = await self._known(conn, items, now)
            for item in items:
                inbound = item.inbound
                key = (item.transport, inbound.carrier_id or "")
                if inbound.carrier_id and key in known:
                    results.append(known[key])
                    continue
                text: str | None = inbound.text
                note = item.note
                if "concat_ref" in inbound.extra:
                    joined = await reassembly.add_part(
                        conn, item.transport, _marked(inbound, item.note), now=now, expiry=self._part_expiry
                    )
                    text, note = joined.text, joined.note
                    if text is not None:
                        text, note = _unmarked(text, note, int(inbound.extra["concat_total"]))
                    rows += [_whole_row(w, now) for w in joined.given_up]
                if text is None:
                    results.append(None)
                    continue
                row = _row(item, text, next(ids), now) | {"error": note}
                if inbound.carrier_id:
                    known[key] = row["id"]  # the same message twice in one batch: stored once
                rows.append(row)
                attachments += _pending_media(row["id"], item, now)
                results.append(row["id"])
            await messages.add_all(conn, rows)
            await media.add_links(conn, attachments)
            await queue.enqueue_many(conn, [(r["id"], now) for r in rows], kind="route")
        if attachments:
            self._on_media()
        return results

    async def _known(self, conn: AsyncConnection, items: list[_Item], now: datetime) -> dict[tuple[str, str], str]:
        """Messages stored lately under the batch's carrier ids, by (transport, carrier id)."""
        wanted = {(i.transport, i.inbound.carrier_id) for i in items if i.inbound.carrier_id}
        if not wanted:
            return {}
        query = sa.select(messages_table.c.id, messages_table.c.transport, messages_table.c.carrier_id).where(
            messages_table.c.transport.in_(sorted({t for t, _ in wanted})),
            messages_table.c.carrier_id.in_(sorted({c for _, c in wanted})),
            messages_table.c.created_at >= now - DEDUP_WINDOW,
        )
        rows = (await conn.execute(query)).all()
        return {(r.transport, r.carrier_id): str(r.id) for r in rows if (r.transport, r.carrier_id) in wanted}

    async def expire_parts(self) -> int:
        """Store the parts of messages that stayed incomplete past the expiry, marked incomplete."""
        now = self._clock()
        async with self._db.write() as conn:
            rows = [_whole_row(w, now) for w in await reassembly.take_expired(conn, now=now, expiry=self._part_expiry)]
            await messages.add_all(conn, rows)
            await queue.enqueue_many(conn, [(r["id"], now) for r in rows], kind="route")
        if rows:
            self._on_stored()
        return len(rows)

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
        "channel": inbound.channel,
    }  # fmt: skip


def _pending_media(message_id: str, item: _Item, now: datetime) -> list[dict[str, Any]]:
    """The message's attachments as the provider names them, to be fetched through its transport, from now on
    (`services/media_fetch.py`); in the transaction that stores the message, so none is lost with a crash."""
    return [
        media.link_row(message_id, i, source=clean(ref).text, transport=item.transport, due_at=now)
        for i, ref in enumerate(item.inbound.media)
    ]


def _whole_row(whole: reassembly.Whole, now: datetime) -> dict[str, Any]:
    """A message made of held parts (an incomplete one: ``error`` says which parts arrived)."""
    text, note = _unmarked(whole.text, whole.note)
    inbound = Inbound(whole.sender, whole.recipient, text, received_at=whole.received_at)
    return _row(_Item(whole.transport, inbound, "smpp"), text, new_id(), now) | {"error": note}
