"""The webhook sender as a pipeline (issue 15), on SQLite and PostgreSQL with real HTTP receivers: one subject's
events reach a receiver in order while different subjects overlap; a receiver that never answers holds up no other;
a batch of outcomes is recorded in a fixed number of statements; `close` gives back what it did not record."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from parley.bootstrap import Parley
from parley.services import webhook_outcomes as outcomes
from parley.services.webhook_post import Answer
from parley.services.webhook_sender import WebhookSender
from parley.store import webhooks as webhook_store
from parley.store.db import Database
from parley.store.tables import webhook_attempts, webhook_deliveries
from tests.conftest import Clock
from tests.support.http_sink import RecordedRequest
from tests.support.server import wait_until
from tests.support.webhook_app import app_for_webhooks, count_claims, drain, new_endpoint, send, send_many, set_status
from tests.support.webhook_receiver import HttpSink, SilentServer, envelope


@pytest.fixture
async def parley(db: Database, db_url: str, clock: Clock) -> AsyncIterator[Parley]:
    async with app_for_webhooks(db, db_url, clock) as app:
        yield app


@pytest.mark.parametrize("driven_by", ["run_once", "run"])
async def test_a_message_s_statuses_arrive_in_order_while_different_messages_overlap(
    parley: Parley, clock: Clock, driven_by: str
) -> None:
    in_flight: list[str] = []  # the messages of the requests being answered
    most = 0
    overlaps: list[str] = []  # messages that had two requests in flight at once
    overlapping = asyncio.Event()

    async def hold(request: RecordedRequest) -> None:
        """Hold each request until four are in flight at once (then let everything through)."""
        nonlocal most
        message_id = envelope(request)["data"]["id"]
        if message_id in in_flight:
            overlaps.append(message_id)
        in_flight.append(message_id)
        most = max(most, len(in_flight))
        if len(in_flight) >= 4:
            overlapping.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(overlapping.wait(), 2)
        finally:
            in_flight.remove(message_id)

    async with HttpSink(hold=hold) as sink:
        await new_endpoint(parley, sink.url, ["message.status"])
        # run_once: all 36 in one claim; run: claims of 10 while earlier lanes are still busy
        batch = 50 if driven_by == "run_once" else 10
        sender = WebhookSender(parley.db, clock, parley.webhooks, batch=batch)
        running = asyncio.create_task(sender.run()) if driven_by == "run" else None
        try:
            ids = await send_many(parley, 12)
            for status in ("sent", "delivered"):
                await set_status(parley, clock, ids, status)
                sender.wake()
            if running is None:
                while await sender.run_once():
                    pass
            else:
                await wait_until(lambda: len(sink.requests) == 36, timeout=15)
        finally:
            if running is not None:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
            await sender.close()
        arrived: dict[str, list[str]] = {}
        for request in sink.requests:
            data = envelope(request)["data"]
            arrived.setdefault(data["id"], []).append(data["status"])
        assert arrived == {i: ["queued", "sent", "delivered"] for i in ids}
        assert overlaps == []
        assert most >= 4 and overlapping.is_set()


async def test_rows_without_a_subject_go_one_after_the_other_per_receiver(parley: Parley, clock: Clock) -> None:
    in_flight, most = 0, 0
    second = asyncio.Event()

    async def hold(_: RecordedRequest) -> None:
        """Hold each request a moment, long enough for another lane's request to arrive if there were one."""
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        if in_flight > 1:
            second.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(second.wait(), 0.2)
        finally:
            in_flight -= 1

    async with HttpSink(hold=hold) as sink:
        await new_endpoint(parley, sink.url, ["message.status"])
        ids = await send_many(parley, 6)
        async with parley.db.write() as conn:  # as rows written before migration 0016
            await conn.execute(webhook_deliveries.update().values(subject=None))
        await drain(parley)
        assert [envelope(r)["data"]["id"] for r in sink.requests] == ids
        assert most == 1


async def _delivery(parley: Parley, endpoint_id: str, message_id: str) -> Any:
    async with parley.db.read() as conn:
        query = sa.select(*webhook_deliveries.c).where(
            webhook_deliveries.c.endpoint_id == endpoint_id, webhook_deliveries.c.subject == message_id
        )
        return (await conn.execute(query)).one()


async def test_a_receiver_that_never_answers_holds_up_no_other_and_close_gives_its_deliveries_back(
    parley: Parley, clock: Clock
) -> None:
    async with SilentServer() as silent, HttpSink() as sink:
        slow = await new_endpoint(parley, silent.url, ["message.status"])
        await new_endpoint(parley, sink.url, ["message.status"])
        sender = WebhookSender(parley.db, clock, parley.webhooks, attempt_seconds=10,
                               per_target=2, in_flight=4)  # fmt: skip
        running = asyncio.create_task(sender.run())
        try:
            first = await send_many(parley, 5)  # five for the silent receiver: two in flight, three waiting
            sender.wake()
            await wait_until(lambda: silent.connections == 2 and len(sink.requests) == 5, timeout=5)
            second = await send(parley)
            sender.wake()
            # Well within the silent receiver's 10 s: the sender does not wait for it.
            await wait_until(lambda: len(sink.requests) == 6, timeout=5)
            assert sorted(envelope(r)["data"]["id"] for r in sink.requests) == sorted([*first, second["id"]])
            assert silent.connections == 2  # its share, no more
            pending = await _delivery(parley, slow["id"], first[0])
            assert (pending.attempts, pending.state) == (0, "pending") and pending.lease_until is not None
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            await sender.close()
        given_back = [(r.attempts, r.state, r.lease_until) for r in await _rows_of(parley, slow["id"])]
        assert given_back == [(0, "pending", None)] * 6


@pytest.mark.parametrize(
    ("count", "statuses"),
    [
        pytest.param(1, (200,), id="one"),
        pytest.param(10, (200,), id="ten"),
        pytest.param(60, (200,), id="sixty"),
        pytest.param(60, (200, 204), id="sixty-two-statuses"),
    ],
)
async def test_a_batch_of_successes_is_recorded_in_a_fixed_number_of_statements(
    parley: Parley, clock: Clock, count: int, statuses: tuple[int, ...]
) -> None:
    endpoint = await new_endpoint(parley, "https://hooks.example.com/in", ["message.status"])
    await send_many(parley, count)
    async with parley.db.write() as conn:
        claimed = await webhook_store.claim(conn, now=clock(), lease=timedelta(seconds=30), limit=count)
    assert len(claimed) == count
    batch = [outcomes.Outcome(d, Answer(statuses[i % len(statuses)], None, "ok", 3)) for i, d in enumerate(claimed)]
    statements: list[str] = []

    def counted(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    sa.event.listen(parley.db.engine.sync_engine, "before_cursor_execute", counted)
    try:
        async with parley.db.write() as conn:
            await outcomes.record(conn, batch, clock())
    finally:
        sa.event.remove(parley.db.engine.sync_engine, "before_cursor_execute", counted)
    # First attempts: one UPDATE keeps each attempt on its delivery whatever the statuses, and finds any attempted
    # meanwhile by another worker (PostgreSQL: from arrays, returning the counts; SQLite: executemany, then a SELECT);
    # one UPDATE of the endpoint. (Before attempts were kept on deliveries: an INSERT of attempt rows and one UPDATE
    # per status in place of the first two.)
    run = [s.split()[0].upper() for s in statements if not s.startswith("BEGIN")]  # SQLite's write transactions
    expected = ["UPDATE", "UPDATE"] if parley.db.is_postgres else ["UPDATE", "SELECT", "UPDATE"]
    assert run == expected, statements
    async with parley.db.read() as conn:
        query = sa.select(*webhook_deliveries.c).where(webhook_deliveries.c.endpoint_id == endpoint["id"])
        rows = (await conn.execute(query)).all()
        attempts = await conn.scalar(sa.select(sa.func.count()).select_from(webhook_attempts))
    assert sorted((r.state, r.attempts, r.last_status, r.lease_until, r.first_status, r.first_answer,
                   r.first_duration_ms) for r in rows) == sorted(
        ("delivered", 1, statuses[i % len(statuses)], None, statuses[i % len(statuses)], "ok", 3) for i in range(count)
    )  # fmt: skip
    assert attempts == 0


async def test_a_lane_gives_back_what_its_lease_would_not_cover(parley: Parley, clock: Clock) -> None:
    async with SilentServer() as silent:
        slow = await new_endpoint(parley, silent.url, ["message.status"])
        message = await send(parley)
        await set_status(parley, clock, [message["id"]], "sent")
        # Leased for 2 s, 0.6 s an attempt (and 1 s kept to record it): the first fits, the second no longer does.
        sender = WebhookSender(parley.db, clock, parley.webhooks, attempt_seconds=0.6,
                               lease=timedelta(seconds=2))  # fmt: skip
        try:
            assert await sender.run_once() == 2
        finally:
            await sender.close()
        found = [(r.attempts, r.state, r.lease_until) for r in await _rows_of(parley, slow["id"])]
        assert found[1] == (0, "pending", None)  # given back, never sent: claimed again at once
        assert found[0][:2] == (1, "pending") and silent.connections == 1


async def _rows_of(parley: Parley, endpoint_id: str) -> list[Any]:
    async with parley.db.read() as conn:
        query = sa.select(*webhook_deliveries.c).where(webhook_deliveries.c.endpoint_id == endpoint_id)
        return list((await conn.execute(query.order_by(webhook_deliveries.c.id))).all())


async def test_new_deliveries_for_a_full_receiver_do_not_make_claims_walk_its_backlog(
    parley: Parley, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load every commit wakes the sender; while the only due deliveries are a full receiver's, a claim
    would leave them all out after walking them: such wake-ups, and the claim right after one that filled the
    receiver, wait for the receiver's room instead."""
    claims = count_claims(monkeypatch)
    async with SilentServer() as silent, HttpSink() as sink:
        slow = await new_endpoint(parley, silent.url, ["message.status"])
        sender = WebhookSender(parley.db, clock, parley.webhooks, attempt_seconds=10,
                               per_target=2, in_flight=4, batch=2)  # fmt: skip
        await send_many(parley, 8)
        running = asyncio.create_task(sender.run())  # its first claim finds them
        try:
            await wait_until(lambda: silent.connections == 2, timeout=5)
            await asyncio.sleep(0.1)  # five times the sender's pause between claims
            assert claims == [2]  # it filled the receiver: no claim walked the receiver's backlog right after
            before = len(claims)
            for _ in range(20):
                sender.wake({("endpoint", slow["id"])})
                await asyncio.sleep(0.03)  # longer than the sender's pause between claims
            assert len(claims) - before <= 1  # at most the once-a-second look
            other = await new_endpoint(parley, sink.url, ["message.status"])
            message = await send(parley)
            sender.wake({("endpoint", other["id"])})
            await wait_until(lambda: len(sink.requests) == 1, timeout=5)
            assert envelope(sink.requests[0])["data"]["id"] == message["id"]
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            await sender.close()
