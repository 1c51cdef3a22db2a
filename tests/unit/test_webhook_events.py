"""Webhook events: the envelope, who may receive them, when to retry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from parley.core import webhook_events as ev

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_envelope_is_compact_json_with_the_event_id_type_time_and_data() -> None:
    body = ev.envelope("evt_1", ev.MESSAGE_STATUS, T0, {"id": "m1", "status": "queued"})
    assert json.loads(body) == {"id": "evt_1", "type": "message.status", "created_at": "2026-11-30T12:00:00.000Z",
                                "data": {"id": "m1", "status": "queued"}}  # fmt: skip
    assert " " not in body


@pytest.mark.parametrize(
    ("attempts", "after"),
    [pytest.param(1, 1, id="first-retry-1s"), pytest.param(2, 5, id="second-5s"), pytest.param(3, 30, id="then-30s"),
     pytest.param(40, 3600, id="caps-at-an-hour")],
)  # fmt: skip
def test_retries_come_after_1s_then_5s_then_back_off(attempts: int, after: int) -> None:
    assert ev.retry_at(attempts, T0, T0) == T0 + timedelta(seconds=after)


def test_retries_stop_after_24_hours() -> None:
    assert ev.retry_at(5, T0, T0 + timedelta(hours=23, minutes=59)) is None
    assert ev.retry_at(5, T0, T0 + timedelta(hours=23)) is not None


@pytest.mark.parametrize(
    ("events", "problem"),
    [pytest.param([], "non-empty", id="empty"), pytest.param("message.status", "non-empty", id="not-a-list"),
     pytest.param(["message.sent"], "unknown event 'message.sent'", id="unknown")],
)  # fmt: skip
def test_bad_event_lists_are_named(events: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ev.check_events(events)


def test_event_lists_are_deduplicated() -> None:
    assert ev.check_events(["message.status", "message.status"]) == ["message.status"]


def test_users_get_only_events_they_may_see_admins_all() -> None:
    assert ev.may_see(is_admin=True, owner_id=1, audience=frozenset())
    assert ev.may_see(is_admin=False, owner_id=2, audience=frozenset({2, 3}))
    assert not ev.may_see(is_admin=False, owner_id=2, audience=frozenset({3}))


def test_twilio_params_use_twilio_status_names() -> None:
    params = ev.twilio_params(message_sid="SM1", account_sid="AC1", status="cancelled", sender="+1", recipient="+2",
                              error_code="30003")  # fmt: skip
    assert params["MessageStatus"] == params["SmsStatus"] == "canceled"
    assert params["ErrorCode"] == "30003" and params["ApiVersion"] == "2010-04-01"
