"""Where a webhook delivery's attempts are kept (issue 15), on SQLite and PostgreSQL: a first attempt that succeeds
stays on its delivery and writes no `webhook_attempts` row; every other attempt is a row; the API lists them all
alike, and ``attempts`` counts them all — after a retry, after a resend, and when another worker's attempt of the
same delivery was recorded since the claim."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from parley.bootstrap import Parley
from parley.services import webhook_outcomes as outcomes
from parley.services.webhook_post import Answer
from parley.store import webhooks as webhook_store
from parley.store.db import Database
from parley.store.tables import webhook_attempts, webhook_deliveries
from tests.conftest import Clock
from tests.support.app import client
from tests.support.http_sink import HttpSink, RecordedRequest
from tests.support.webhook_app import ALICE, app_for_webhooks, drain, new_endpoint, send


@pytest.fixture
async def parley(db: Database, db_url: str, clock: Clock) -> AsyncIterator[Parley]:
    async with app_for_webhooks(db, db_url, clock) as app:
        yield app


async def _listed(parley: Parley, endpoint_id: str) -> list[dict[str, Any]]:
    async with client(parley, auth=ALICE) as http:
        answer = await http.get(f"/api/v2/webhook-endpoints/{endpoint_id}/deliveries")
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


async def _attempt_rows(parley: Parley) -> list[tuple[Any, ...]]:
    async with parley.db.read() as conn:
        query = sa.select(webhook_attempts.c.status, webhook_attempts.c.answer).order_by(webhook_attempts.c.id)
        return [tuple(r) for r in (await conn.execute(query)).all()]


async def test_a_first_try_success_writes_no_attempt_row_and_is_listed_with_its_one_attempt(parley: Parley) -> None:
    async def slowly(_: RecordedRequest) -> None:
        await asyncio.sleep(0.05)

    async with HttpSink(status=202, body="thanks", hold=slowly) as sink:
        endpoint = await new_endpoint(parley, sink.url, ["message.status"])
        await send(parley)
        await drain(parley)
        assert len(sink.requests) == 1
    assert await _attempt_rows(parley) == []
    [delivery] = await _listed(parley, endpoint["id"])
    assert (delivery["state"], delivery["attempts"], delivery["last_status"]) == ("delivered", 1, 202)
    [attempt] = delivery["answers"]
    assert attempt["at"] == delivery["delivered_at"]
    assert (attempt["status"], attempt["error"], attempt["answer"]) == (202, None, "thanks")
    assert 50 <= attempt["duration_ms"] < 5000


async def test_a_delivery_that_failed_then_succeeded_lists_both_attempts(parley: Parley, clock: Clock) -> None:
    async with HttpSink(status=503, body="busy") as sink:
        endpoint = await new_endpoint(parley, sink.url, ["message.status"])
        await send(parley)
        await drain(parley)
        sink.answer(200, "ok")
        clock.advance(seconds=1)
        await drain(parley)
        assert len(sink.requests) == 2
    assert await _attempt_rows(parley) == [(503, "busy"), (200, "ok")]
    [delivery] = await _listed(parley, endpoint["id"])
    assert (delivery["state"], delivery["attempts"]) == ("delivered", 2)
    answers = [(a["status"], a["answer"], a["duration_ms"] >= 0) for a in delivery["answers"]]
    assert answers == [(503, "busy", True), (200, "ok", True)]


async def test_a_resent_delivery_lists_its_first_attempt_then_the_new_one(parley: Parley, clock: Clock) -> None:
    async with HttpSink(status=200, body="one") as sink:
        endpoint = await new_endpoint(parley, sink.url, ["message.status"])
        await send(parley)
        await drain(parley)
        [delivery] = await _listed(parley, endpoint["id"])
        async with client(parley, auth=ALICE) as http:
            path = f"/api/v2/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/resend"
            resent = (await http.post(path)).json()
        assert [a["answer"] for a in resent["answers"]] == ["one"]  # the resend's own answer shows it too
        sink.answer(201, "two")
        clock.advance(seconds=5)
        await drain(parley)
    assert await _attempt_rows(parley) == [(201, "two")]
    [delivery] = await _listed(parley, endpoint["id"])
    assert (delivery["state"], delivery["attempts"], delivery["last_status"]) == ("delivered", 2, 201)
    assert [(a["status"], a["answer"]) for a in delivery["answers"]] == [(200, "one"), (201, "two")]
    assert [a["at"] for a in delivery["answers"]] == sorted(a["at"] for a in delivery["answers"])


OK, DOWN = Answer(200, None, "ok", 4), Answer(500, "HTTP 500", "down", 6)


@pytest.mark.parametrize(
    ("answers", "batches", "listed", "rows"),
    [
        pytest.param((OK, OK), 2, [(200, "ok"), (200, "ok")], 1, id="two-successes"),
        pytest.param((DOWN, OK), 2, [(500, "down"), (200, "ok")], 2, id="failure-then-success"),
        pytest.param((OK, DOWN), 2, [(200, "ok"), (500, "down")], 1, id="success-then-failure"),
        pytest.param((OK, OK), 1, [(200, "ok"), (200, "ok")], 1, id="two-successes-in-one-batch"),
    ],
)
async def test_attempts_of_one_delivery_made_from_the_same_claim_are_all_counted_and_listed(
    parley: Parley,
    clock: Clock,
    answers: tuple[Answer, Answer],
    batches: int,
    listed: list[tuple[int, str]],
    rows: int,
) -> None:
    """Two attempts recorded from rows claimed while the delivery had none: as when another worker claims it after
    a resend, or after the lease of an attempt not yet recorded ran out. Each outcome believes it is the first."""
    endpoint = await new_endpoint(parley, "https://hooks.example.com/in", ["message.status"])
    await send(parley)
    async with parley.db.write() as conn:
        [claimed] = await webhook_store.claim(conn, now=clock(), lease=timedelta(seconds=30), limit=10)
    assert claimed.attempts == 0
    made = [outcomes.Outcome(claimed, answer) for answer in answers]
    for batch in [made] if batches == 1 else [[m] for m in made]:
        async with parley.db.write() as conn:
            await outcomes.record(conn, batch, clock())
        clock.advance(seconds=1)
    [delivery] = await _listed(parley, endpoint["id"])
    assert delivery["attempts"] == 2
    assert [(a["status"], a["answer"]) for a in delivery["answers"]] == listed
    assert len(await _attempt_rows(parley)) == rows  # a first attempt that succeeded stays on its delivery


async def test_deliveries_written_before_0017_list_their_attempt_rows(parley: Parley, clock: Clock) -> None:
    endpoint = await new_endpoint(parley, "https://hooks.example.com/in", ["message.status"])
    await send(parley)
    async with parley.db.write() as conn:  # as 0016 recorded a first-try success
        delivery_id = await conn.scalar(sa.select(webhook_deliveries.c.id))
        await conn.execute(
            webhook_deliveries.update().values(state="delivered", attempts=1, last_status=200, delivered_at=clock())
        )
        await conn.execute(webhook_attempts.insert().values(delivery_id=delivery_id, at=clock(), status=200,
                                                            answer="old", duration_ms=9))  # fmt: skip
    [delivery] = await _listed(parley, endpoint["id"])
    assert [(a["status"], a["answer"], a["duration_ms"]) for a in delivery["answers"]] == [(200, "old", 9)]
