"""Timed actions: reading them, and when their conditions hold, with the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.actions import (
    Action,
    ActionsError,
    AddMembers,
    BotMessage,
    Condition,
    ConditionKind,
    ConversationState,
    TimerOutcome,
    actions_to_docs,
    due_at,
    format_duration,
    holds,
    on_inbound,
    on_timer,
    parse_actions,
    parse_duration,
    should_fire,
)

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
NO_REPLY = ConditionKind.NO_REPLY
NOT_READ = ConditionKind.NOT_READ
NO_ACTIVITY = ConditionKind.NO_ACTIVITY


def s(seconds: float) -> datetime:
    """T0 plus some seconds."""
    return T0 + timedelta(seconds=seconds)


def state(
    inbound: float | None = 0,
    reply: float | None = None,
    read: float | None = None,
    activity: float | None = 0,
    fired: frozenset[str] = frozenset(),
) -> ConversationState:
    """A conversation's state with times as seconds after T0."""

    def at(seconds: float | None) -> datetime | None:
        return None if seconds is None else s(seconds)

    return ConversationState(at(inbound), at(reply), at(read), at(activity), fired)


def action(*conditions: Condition, once: bool = False, name: str = "Nudge") -> Action:
    return Action(name, conditions, BotMessage("Helper", "An agent will be with you shortly"), once)


def cond(kind: ConditionKind, seconds: int) -> Condition:
    return Condition(kind, timedelta(seconds=seconds))


# -- durations -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        pytest.param("30s", 30, id="seconds"),
        pytest.param("5m", 300, id="minutes"),
        pytest.param("2h", 7200, id="hours"),
        pytest.param("1d", 86400, id="a-day"),
        pytest.param("1h30m", 5400, id="hours-and-minutes"),
        pytest.param("1H 30M", 5400, id="any-case-and-spaces"),
        pytest.param("1d0h0m5s", 86405, id="every-unit"),
        pytest.param(45, 45, id="whole-seconds"),
    ],
)
def test_durations_are_read_from_unit_text_or_seconds(raw: Any, seconds: int) -> None:
    assert parse_duration(raw) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("5 minutes", id="words"),
        pytest.param("30m1h", id="units-out-of-order"),
        pytest.param("", id="empty"),
        pytest.param("m", id="unit-without-number"),
        pytest.param(1.5, id="fraction"),
        pytest.param(True, id="boolean"),
    ],
)
def test_other_durations_are_refused(raw: Any) -> None:
    with pytest.raises(ValueError, match="is not a duration such as 30s, 5m, 2h, 1d or 1h30m"):
        parse_duration(raw)


@given(st.integers(min_value=0, max_value=10 * 86400))
def test_a_formatted_duration_reads_back_the_same(seconds: int) -> None:
    assert parse_duration(format_duration(timedelta(seconds=seconds))) == timedelta(seconds=seconds)


def test_durations_are_formatted_in_the_largest_units() -> None:
    assert [format_duration(timedelta(seconds=n)) for n in (5, 90, 5400, 86400, 0)] == [
        "5s",
        "1m30s",
        "1h30m",
        "1d",
        "0s",
    ]


# -- reading ---------------------------------------------------------------------------------------------------------

NUDGE: dict[str, Any] = {
    "name": "Nudge",
    "conditions": [{"type": "no_reply", "after": "5m"}],
    "task": {"bot": "Helper", "message": "An agent will be with you shortly"},
    "once_per_conversation": True,
}


def test_the_documented_shape_is_read_into_actions() -> None:
    escalate = {
        "name": "Escalate",
        "conditions": [{"type": "not_read", "after": 600}, {"type": "no_activity", "after": "1h30m"}],
        "task": {"add_members": ["101", "102", "101"]},
    }
    assert parse_actions([NUDGE, escalate]) == (
        Action("Nudge", (cond(NO_REPLY, 300),), BotMessage("Helper", "An agent will be with you shortly"), True),
        Action("Escalate", (cond(NOT_READ, 600), cond(NO_ACTIVITY, 5400)), AddMembers(("101", "102")), False),
    )


def test_an_action_without_conditions_is_read() -> None:
    (greet,) = parse_actions([{"name": "Greet", "task": {"bot": "Night bot", "message": "We open at 9"}}])
    assert greet.conditions == ()


def _problems(docs: Any) -> list[str]:
    with pytest.raises(ActionsError) as caught:
        parse_actions(docs)
    return caught.value.problems


def _with(**fields: Any) -> list[dict[str, Any]]:
    return [{**NUDGE, **fields}]


def _after(value: Any) -> list[dict[str, Any]]:
    return _with(conditions=[{"type": "no_reply", "after": value}])


@pytest.mark.parametrize(
    ("docs", "expected"),
    [
        pytest.param(_after("2s"), ['actions[0].conditions[0].after: "2s" is shorter than 5 seconds'], id="too-short"),
        pytest.param(_after(4), ["actions[0].conditions[0].after: 4 is shorter than 5 seconds"], id="too-short-int"),
        pytest.param(_after("1d1s"), ['actions[0].conditions[0].after: "1d1s" is longer than 1 day'], id="too-long"),
        pytest.param(
            _after("99999999999d"),
            ['actions[0].conditions[0].after: "99999999999d" is longer than 1 day'],
            id="beyond-any-duration",
        ),
        pytest.param(_after(10**30), [f"actions[0].conditions[0].after: {10**30} is longer than 1 day"], id="huge-int"),
        pytest.param(
            _after(-(10**30)), [f"actions[0].conditions[0].after: {-(10**30)} is shorter than 5 seconds"], id="neg"
        ),
        pytest.param(
            _after("soon"),
            ['actions[0].conditions[0].after: "soon" is not a duration such as 30s, 5m, 2h, 1d or 1h30m'],
            id="not-a-duration",
        ),
        pytest.param(
            _with(conditions=[{"type": "no_reply"}]), ["actions[0].conditions[0].after: is required"], id="no-after"
        ),
        pytest.param(
            _with(conditions=[{"type": "no_answer", "after": "5m"}]),
            ['actions[0].conditions[0].type: "no_answer" is not one of no_reply, not_read, no_activity'],
            id="unknown-type",
        ),
        pytest.param(
            _with(conditions=[{"after": "5m"}]),
            ["actions[0].conditions[0].type: is required, one of no_reply, not_read, no_activity"],
            id="no-type",
        ),
        pytest.param(
            _with(conditions=[{"type": "no_reply", "after": "5m"}] * 4),
            ["actions[0].conditions: at most 3 conditions, not 4"],
            id="four-conditions",
        ),
        pytest.param(
            _with(conditions=["no_reply 5m"]),
            ['actions[0].conditions[0]: must be an object such as {"type": "no_reply", "after": "5m"}'],
            id="condition-not-an-object",
        ),
        pytest.param(
            [{"name": "Nudge"}],
            ['actions[0].task: is required: {"bot": "…", "message": "…"} or {"add_members": ["101", …]}'],
            id="missing-task",
        ),
        pytest.param(
            _with(task={"say": "hi"}),
            ['actions[0].task: must be {"bot": "…", "message": "…"} or {"add_members": ["101", …]}'],
            id="unknown-task",
        ),
        pytest.param(
            _with(task={"bot": "Helper", "message": "hi", "add_members": ["101"]}),
            ["actions[0].task: has both a bot message and add_members; an action has one task"],
            id="both-tasks",
        ),
        pytest.param(
            _with(task={"bot": "Helper"}), ["actions[0].task.message: must be a non-empty string"], id="no-message"
        ),
        pytest.param(
            _with(task={"bot": " ", "message": "hi"}), ["actions[0].task.bot: must be a non-empty string"], id="no-bot"
        ),
        pytest.param(
            _with(task={"bot": "Helper", "message": "x" * 671}),
            ["actions[0].task.message: is longer than 670 characters"],
            id="message-too-long",
        ),
        pytest.param(
            _with(task={"add_members": []}),
            ["actions[0].task.add_members: must be a non-empty list of extensions"],
            id="no-members",
        ),
        pytest.param(
            _with(task={"add_members": "101"}),
            ["actions[0].task.add_members: must be a non-empty list of extensions"],
            id="members-not-a-list",
        ),
        pytest.param(_with(name=""), ["actions[0].name: must be a non-empty string"], id="no-name"),
        pytest.param(
            _with(once_per_conversation="yes"),
            ["actions[0].once_per_conversation: must be true or false"],
            id="once-not-a-boolean",
        ),
        pytest.param(
            [NUDGE, NUDGE], ['actions[1].name: "Nudge" is already the name of another action'], id="duplicate-name"
        ),
        pytest.param(["Nudge"], ["actions[0]: must be an object with name, conditions and task"], id="not-an-object"),
        pytest.param({"name": "Nudge"}, ["actions: must be a list of actions"], id="not-a-list"),
        pytest.param(
            [{"name": "A", "conditions": [{"type": "x", "after": "1s"}]}],
            [
                'actions[0].conditions[0].type: "x" is not one of no_reply, not_read, no_activity',
                'actions[0].conditions[0].after: "1s" is shorter than 5 seconds',
                'actions[0].task: is required: {"bot": "…", "message": "…"} or {"add_members": ["101", …]}',
            ],
            id="every-problem-at-once",
        ),
    ],
)
def test_bad_actions_are_refused_naming_every_problem_by_path(docs: Any, expected: list[str]) -> None:
    assert _problems(docs) == expected


def test_problems_are_named_under_the_path_given() -> None:
    with pytest.raises(ActionsError) as caught:
        parse_actions(_after("2s"), "numbers[0].actions")
    assert caught.value.problems == ['numbers[0].actions[0].conditions[0].after: "2s" is shorter than 5 seconds']


def test_the_document_form_reads_back_to_the_same_actions() -> None:
    docs: list[dict[str, Any]] = [
        NUDGE,
        {"name": "Greet", "conditions": [], "task": {"bot": "Night bot", "message": "Hi"}},
        {"name": "Escalate", "conditions": [{"type": "not_read", "after": 90}], "task": {"add_members": ["101"]}},
    ]
    actions = parse_actions(docs)
    assert actions_to_docs(actions)[2] == {
        "name": "Escalate",
        "conditions": [{"type": "not_read", "after": "1m30s"}],
        "task": {"add_members": ["101"]},
        "once_per_conversation": False,
    }
    assert parse_actions(actions_to_docs(actions)) == actions


# -- conditions ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "conversation", "now", "expected"),
    [
        pytest.param(cond(NO_REPLY, 300), state(inbound=0), 300, True, id="no-reply-after-exactly-the-time"),
        pytest.param(cond(NO_REPLY, 300), state(inbound=0), 299, False, id="no-reply-too-early"),
        pytest.param(cond(NO_REPLY, 300), state(inbound=0, reply=10), 900, False, id="replied-after-inbound"),
        pytest.param(cond(NO_REPLY, 300), state(inbound=0, reply=0), 900, False, id="reply-at-the-same-instant"),
        pytest.param(cond(NO_REPLY, 300), state(inbound=20, reply=10), 320, True, id="customer-wrote-again"),
        pytest.param(cond(NO_REPLY, 300), state(inbound=None, activity=None), 900, False, id="no-reply-nothing-in"),
        pytest.param(cond(NOT_READ, 60), state(inbound=0), 60, True, id="unread"),
        pytest.param(cond(NOT_READ, 60), state(inbound=0, read=5), 600, False, id="read-after-inbound"),
        pytest.param(cond(NOT_READ, 60), state(inbound=10, read=5), 70, True, id="read-before-the-last-inbound"),
        pytest.param(cond(NOT_READ, 60), state(inbound=0, reply=5), 600, True, id="replied-but-not-marked-read"),
        pytest.param(cond(NOT_READ, 60), state(inbound=0), 59, False, id="not-read-too-early"),
        pytest.param(cond(NO_ACTIVITY, 600), state(inbound=0, activity=0), 600, True, id="quiet-conversation"),
        pytest.param(cond(NO_ACTIVITY, 600), state(inbound=0, reply=60, activity=60), 600, False, id="agent-spoke"),
        pytest.param(cond(NO_ACTIVITY, 600), state(inbound=0, reply=60, activity=60), 660, True, id="quiet-since"),
        pytest.param(cond(NO_ACTIVITY, 600), state(inbound=None, activity=None), 9999, False, id="no-messages-at-all"),
    ],
)
def test_a_condition_holds_when_its_event_is_missing_for_its_time(
    condition: Condition, conversation: ConversationState, now: float, expected: bool
) -> None:
    assert holds(condition, conversation, s(now)) is expected


@pytest.mark.parametrize(
    ("act", "conversation", "expected"),
    [
        pytest.param(action(cond(NO_REPLY, 300)), state(inbound=10), s(310), id="inbound-plus-after"),
        pytest.param(
            action(cond(NO_REPLY, 300), cond(NO_ACTIVITY, 600)),
            state(inbound=10, reply=5, activity=40),
            s(640),
            id="latest-of-the-conditions",
        ),
        pytest.param(action(), state(), None, id="no-conditions-runs-at-once"),
        pytest.param(action(cond(NOT_READ, 60)), state(inbound=None, activity=None), None, id="no-anchor"),
    ],
)
def test_an_action_is_due_when_its_last_condition_can_first_hold(
    act: Action, conversation: ConversationState, expected: datetime | None
) -> None:
    assert due_at(act, conversation) == expected


@pytest.mark.parametrize(
    ("act", "conversation", "now", "expected"),
    [
        pytest.param(action(cond(NO_REPLY, 300)), state(), 300, True, id="condition-holds"),
        pytest.param(action(cond(NO_REPLY, 300), cond(NOT_READ, 60)), state(read=30), 300, False, id="one-fails"),
        pytest.param(action(cond(NO_REPLY, 300), cond(NOT_READ, 60)), state(), 300, True, id="all-hold"),
        pytest.param(action(cond(NO_REPLY, 300), once=True), state(fired=frozenset({"Nudge"})), 300, False, id="spent"),
        pytest.param(action(cond(NO_REPLY, 300)), state(fired=frozenset({"Nudge"})), 300, True, id="repeatable"),
        pytest.param(action(once=True), state(fired=frozenset({"Other"})), 0, True, id="others-fired-not-this"),
        pytest.param(action(), state(), 0, True, id="no-conditions"),
    ],
)
def test_an_action_fires_when_all_conditions_hold_and_it_is_not_spent(
    act: Action, conversation: ConversationState, now: float, expected: bool
) -> None:
    assert should_fire(act, conversation, s(now)) is expected


def test_after_an_inbound_message_actions_are_armed_with_their_fire_times() -> None:
    greet = action(name="Greet")
    nudge = action(cond(NO_REPLY, 300), name="Nudge")
    welcome_once = action(name="Welcome", once=True)
    escalate_once = action(cond(NOT_READ, 60), name="Escalate", once=True)
    conversation = state(inbound=100, activity=100, fired=frozenset({"Welcome", "Escalate"}))
    armed = on_inbound([greet, nudge, welcome_once, escalate_once], conversation, s(100))
    assert armed == [(greet, s(100)), (nudge, s(400))]


def test_an_armed_time_is_never_in_the_past() -> None:
    quiet = action(cond(NO_ACTIVITY, 5))
    assert on_inbound([quiet], state(inbound=100, activity=0), s(100)) == [(quiet, s(100))]


@pytest.mark.parametrize(
    ("act", "conversation", "now", "expected"),
    [
        pytest.param(action(cond(NO_REPLY, 300)), state(), 300, TimerOutcome(fire=True), id="fires"),
        pytest.param(action(cond(NO_REPLY, 300)), state(reply=100), 300, TimerOutcome(fire=False), id="replied"),
        pytest.param(action(cond(NOT_READ, 60)), state(read=30), 60, TimerOutcome(fire=False), id="read"),
        pytest.param(
            action(cond(NO_REPLY, 300), once=True),
            state(fired=frozenset({"Nudge"})),
            300,
            TimerOutcome(fire=False),
            id="already-fired-once",
        ),
        pytest.param(
            action(cond(NO_ACTIVITY, 300)),
            state(inbound=0, reply=120, activity=120),
            300,
            TimerOutcome(fire=False, recheck_at=s(420)),
            id="activity-restarts-the-clock",
        ),
        pytest.param(
            action(cond(NO_REPLY, 300)),
            state(inbound=200),
            300,
            TimerOutcome(fire=False, recheck_at=s(500)),
            id="customer-wrote-again-before-the-timer",
        ),
        pytest.param(
            action(cond(NO_REPLY, 300), cond(NO_ACTIVITY, 300)),
            state(inbound=0, reply=120, activity=120),
            300,
            TimerOutcome(fire=False),
            id="one-condition-can-no-longer-hold",
        ),
    ],
)
def test_a_timer_that_comes_due_fires_waits_or_is_cancelled(
    act: Action, conversation: ConversationState, now: float, expected: TimerOutcome
) -> None:
    assert on_timer(act, conversation, s(now)) == expected


_KINDS = st.sampled_from(list(ConditionKind))
_CONDITIONS = st.builds(Condition, _KINDS, st.integers(5, 86400).map(lambda n: timedelta(seconds=n)))
_TIMES = st.one_of(st.none(), st.integers(0, 100_000))


@given(st.lists(_CONDITIONS, min_size=1, max_size=3), _TIMES, _TIMES, _TIMES, _TIMES)
def test_an_action_never_fires_before_it_is_due_and_fires_when_due_if_nothing_changed(
    conditions: list[Condition], inbound: int | None, reply: int | None, read: int | None, activity: int | None
) -> None:
    act = action(*conditions)
    conversation = state(inbound=inbound, reply=reply, read=read, activity=activity)
    due = due_at(act, conversation)
    if due is None:
        return
    assert not should_fire(act, conversation, due - timedelta(microseconds=1))
    pending = on_timer(act, conversation, due - timedelta(seconds=1))
    assert should_fire(act, conversation, due) is (pending.recheck_at == due)
