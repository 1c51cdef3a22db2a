"""Recording outbound webhook attempts (issue 13 §1), a batch at a time, in a fixed number of statements.

`record` stores a batch of outcomes in one transaction. Under load nearly every delivery succeeds at its first
attempt: those are recorded by one UPDATE (executemany) that keeps the attempt on the delivery, with one SELECT that
finds the rare delivery another worker attempted meanwhile (`store.webhooks.keep_first_attempts`); writing a
`webhook_attempts` row for each of them was a quarter of all webhook rows written (issue 15). Every other attempt is
a row, all in one INSERT (executemany); deliveries that succeed at a later attempt are marked in one UPDATE per HTTP
status (nearly always one: 200, or 204), each failure apart (rare: it has its own retry time,
`core.webhook_events.retry_at`). Then each endpoint's run of failures once: ended by one UPDATE for all that
succeeded (it changes only those that were failing), or started — and the endpoint disabled once it has failed for
`core.webhook_events.DISABLE_AFTER` without a success. An endpoint with a success in the batch is not failing.
Under load that is three statements per batch (two of them writes) instead of three per delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core import webhook_events as ev
from parley.services.webhook_post import Answer
from parley.store import webhooks as store

log = structlog.get_logger()


@dataclass(frozen=True)
class Outcome:
    delivery: Any  # a row from `store.webhooks.claim`
    answer: Answer


async def record(conn: AsyncConnection, outcomes: Sequence[Outcome], now: datetime) -> None:
    firsts: list[Outcome] = []  # delivered at the first attempt: the attempt is kept on the delivery
    later: list[Outcome] = []  # every other attempt: a webhook_attempts row
    seen: set[int] = set()  # a delivery twice in a batch (claimed again meanwhile) has one first attempt at most
    for outcome in outcomes:
        first = outcome.answer.ok and outcome.delivery.attempts == 0 and outcome.delivery.id not in seen
        (firsts if first else later).append(outcome)
        seen.add(outcome.delivery.id)
    # Before any other change of the batch's deliveries: it finds an attempt recorded since the claim by the count.
    again = await store.keep_first_attempts(conn, [_attempt(o, now) for o in firsts])
    await store.add_attempts(conn, [_attempt(o, now) for o in later] + again)
    delivered: dict[int, list[int]] = {}  # by HTTP status: delivered at a later attempt
    succeeded = {o.delivery.endpoint_id for o in firsts if o.delivery.endpoint_id is not None}
    failed: dict[str, str | None] = {}  # endpoint: its last error
    for outcome in later:
        delivery, answer = outcome.delivery, outcome.answer
        if answer.ok:
            assert answer.status is not None  # ok says so
            delivered.setdefault(answer.status, []).append(delivery.id)
            if delivery.endpoint_id is not None:
                succeeded.add(delivery.endpoint_id)
            continue
        due = ev.retry_at(delivery.attempts + 1, delivery.created_at, now)
        attempt = {"at": now, "status": answer.status, "error": answer.error}
        state = store.PENDING if due is not None else store.FAILED
        await store.note_outcome(conn, delivery.id, attempt, state=state, due_at=due)
        if delivery.endpoint_id is not None and delivery.enabled:
            failed[delivery.endpoint_id] = answer.error
    for status, ids in delivered.items():
        await store.note_delivered(conn, ids, status, now)
    await store.note_success(conn, succeeded)
    for endpoint_id, error in failed.items():
        if endpoint_id in succeeded:
            continue
        since = await store.note_failure(conn, endpoint_id, now)
        if now - since >= ev.DISABLE_AFTER:
            reason = f"disabled at {now:%Y-%m-%d %H:%M} UTC: every delivery failed for a day ({error})"
            await store.disable(conn, endpoint_id, reason[:500], now)
            log.warning("webhooks.endpoint_disabled", endpoint=endpoint_id)


def _attempt(outcome: Outcome, now: datetime) -> dict[str, Any]:
    answer = outcome.answer
    return {"delivery_id": outcome.delivery.id, "at": now, "status": answer.status, "error": answer.error,
            "answer": answer.answer, "duration_ms": answer.duration_ms}  # fmt: skip
