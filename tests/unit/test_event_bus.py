"""The event bus hands each process's subscribers their events, with the objects they are about added once."""

from __future__ import annotations

import dataclasses

import pytest

from parley.services.events import Event, EventBus


class CountingExpand:
    def __init__(self, *, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    async def __call__(self, events: list[Event]) -> list[Event]:
        self.calls.append([e.data["message_id"] for e in events])
        if self.fail:
            raise ConnectionError("the database is down")
        return [dataclasses.replace(e, data={**e.data, "message": {"id": e.data["message_id"]}}) for e in events]


def created(message_id: str, *audience: int) -> Event:
    return Event("message.created", {"conversation_id": "c1", "message_id": message_id}, frozenset(audience))


async def test_events_are_expanded_once_per_batch_however_many_streams_are_open() -> None:
    expand = CountingExpand()
    bus = EventBus(expand=expand)
    streams = [await bus.subscribe(1, is_admin=False) for _ in range(3)]
    await bus.publish([created("m1", 1), created("m2", 1)])
    assert expand.calls == [["m1", "m2"]]
    for stream in streams:
        got = [stream.queue.get_nowait() for _ in range(2)]
        assert [e.data["message"] for e in got] == [{"id": "m1"}, {"id": "m2"}]


async def test_events_nobody_here_listens_to_are_not_expanded() -> None:
    expand = CountingExpand()
    bus = EventBus(expand=expand)
    await bus.subscribe(2, is_admin=False)
    await bus.publish([created("m1", 1), created("m2", 2)])
    assert expand.calls == [["m2"]]


async def test_when_expanding_fails_the_ids_still_go_out() -> None:
    bus = EventBus(expand=CountingExpand(fail=True))
    stream = await bus.subscribe(1, is_admin=False)
    await bus.publish([created("m1", 1)])
    assert stream.queue.get_nowait().data == {"conversation_id": "c1", "message_id": "m1"}


@pytest.mark.parametrize("is_admin", [True, False])
async def test_admins_hear_every_event_and_users_their_own(is_admin: bool) -> None:
    bus = EventBus()
    stream = await bus.subscribe(7, is_admin=is_admin)
    await bus.publish([created("m1", 1)])
    assert stream.queue.qsize() == (1 if is_admin else 0)


async def test_a_stream_takes_every_waiting_event_at_once_in_order() -> None:
    bus = EventBus()
    stream = await bus.subscribe(1, is_admin=False)
    await bus.publish([created(f"m{n}", 1) for n in range(5)])
    first = await stream.queue.get()
    assert [first.data["message_id"]] + [e.data["message_id"] for e in stream.waiting()] == [f"m{n}" for n in range(5)]
    assert stream.waiting() == [] and stream.queue.empty()
