"""The inbox's pure helpers: the composer's counter, timeline lines, and list cursors."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from parley.services.inbox_view import decode_cursor, describe_event, encode_cursor, merge_timeline


def test_events_name_people_bots_and_the_customer() -> None:
    people = {"u:2": "Bob Jones (102)"}
    assert describe_event("joined", "system", {"member": "u:2"}, people) == "Bob Jones (102) joined"
    assert describe_event("assigned", "u:2", {"assignee": "101"}, people) == "Bob Jones (102) assigned it to 101"
    assert describe_event("joined", "system", {"member": "b:Night bot"}, people) == "Bot Night bot joined"
    assert describe_event("opened", "customer", {}, people) == "The customer opened the conversation"
    assert describe_event("something_new", "u:9", {}, people) == "Something new (u:9)"


def test_cursor_round_trips_and_a_damaged_one_starts_over() -> None:
    row = SimpleNamespace(updated_at=datetime(2026, 11, 24, 12, 0, tzinfo=UTC), id="abc")
    assert decode_cursor(encode_cursor(row)) == (row.updated_at, "abc")
    assert decode_cursor("garbage") is None
    assert decode_cursor("not-a-date|abc") is None


def test_the_timeline_merges_by_time() -> None:
    at = [datetime(2026, 11, 24, h, tzinfo=UTC) for h in (9, 10, 11)]
    found = {
        "messages": [SimpleNamespace(created_at=at[2])],
        "events": [SimpleNamespace(at=at[0])],
        "calls": [SimpleNamespace(started_at=at[1])],
    }
    assert [i.kind for i in merge_timeline(found)] == ["event", "call", "message"]
