"""Timed actions on a company number's conversations (issue 3 §6, seed 002). Pure.

An action has up to three conditions — *no reply*, *not read*, *no activity*, each for a time between 5 seconds and
one day — and one task: a bot sends a set message, or members are added. All its conditions must hold for it to
fire. "Once per conversation" fires it at most once in a conversation; an action without conditions runs after
every inbound customer message.

How the clock enters: after each inbound message ``on_inbound`` says which actions to arm and when. Timers are
stored as durable rows (one per conversation and action; a new inbound message re-arms it) and fired by the
scheduler worker, so they survive restarts. A timer that comes due does not trust the past: ``on_timer`` looks at the
conversation as it is now — it fires if ``should_fire`` holds, waits longer when an anchor moved on (an agent's
message restarts *no activity*), and is cancelled when a condition stopped holding (someone replied or read).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from parley.core.outbound import MAX_MESSAGE_LENGTH

MIN_AFTER = timedelta(seconds=5)
MAX_AFTER = timedelta(days=1)
MAX_CONDITIONS = 3
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


class ActionsError(ValueError):
    """Actions that cannot be used; ``problems`` names each fault by its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class ConditionKind(StrEnum):
    NO_REPLY = "no_reply"  # the customer's last message has had no answer from an agent or bot
    NOT_READ = "not_read"  # the customer's last message has not been read by any participant
    NO_ACTIVITY = "no_activity"  # no message either way


@dataclass(frozen=True)
class Condition:
    kind: ConditionKind
    after: timedelta


@dataclass(frozen=True)
class BotMessage:
    bot: str
    message: str


@dataclass(frozen=True)
class AddMembers:
    extensions: tuple[str, ...]


@dataclass(frozen=True)
class Action:
    name: str
    conditions: tuple[Condition, ...]
    task: BotMessage | AddMembers
    once_per_conversation: bool


@dataclass(frozen=True)
class ConversationState:
    last_inbound_at: datetime | None  # last message from the customer
    last_reply_at: datetime | None  # last message sent by an agent or bot
    last_read_at: datetime | None  # latest read marker of any participant
    last_activity_at: datetime | None  # last message either way
    fired: frozenset[str]  # names of actions already fired in this conversation


@dataclass(frozen=True)
class TimerOutcome:
    """What a timer that came due does: fire the task, wait until ``recheck_at``, or (neither) be cancelled."""

    fire: bool
    recheck_at: datetime | None = None


# -- durations -------------------------------------------------------------------------------------------------------


def parse_duration(raw: Any) -> timedelta:
    """``"30s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"1h30m"`` (units in that order, any case) or whole seconds.

    Raises ValueError with a sentence about ``raw``.
    """
    if isinstance(raw, int) and not isinstance(raw, bool):
        days, hours, minutes, seconds = 0, 0, 0, raw
    else:
        match = _DURATION.fullmatch(re.sub(r"\s+", "", raw).lower()) if isinstance(raw, str) else None
        if match is None or not any(match.groups()):
            raise ValueError(f"{_shown(raw)} is not a duration such as 30s, 5m, 2h, 1d or 1h30m")
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    try:
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        return timedelta.max if seconds >= 0 else timedelta.min  # beyond any limit we check against


def format_duration(duration: timedelta) -> str:
    """The shortest text ``parse_duration`` reads back: 5400 s → ``"1h30m"``."""
    left, parts = int(duration.total_seconds()), []
    for unit, size in _UNITS:
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts) or "0s"


def _shown(raw: Any) -> str:
    return f'"{raw}"' if isinstance(raw, str) else repr(raw)


# -- reading and writing the documents -------------------------------------------------------------------------------


def _kind(raw: Any, path: str, problems: list[str]) -> ConditionKind | None:
    kinds = [k.value for k in ConditionKind]
    if isinstance(raw, str) and raw in kinds:
        return ConditionKind(raw)
    given = "is required," if raw is None else f"{_shown(raw)} is not"
    problems.append(f"{path}.type: {given} one of {', '.join(kinds)}")
    return None


def _after(raw: Any, path: str, problems: list[str]) -> timedelta | None:
    if raw is None:
        problems.append(f"{path}.after: is required")
        return None
    try:
        after = parse_duration(raw)
    except ValueError as exc:
        problems.append(f"{path}.after: {exc}")
        return None
    if after < MIN_AFTER:
        problems.append(f"{path}.after: {_shown(raw)} is shorter than 5 seconds")
    elif after > MAX_AFTER:
        problems.append(f"{path}.after: {_shown(raw)} is longer than 1 day")
    else:
        return after
    return None


def _condition(raw: Any, path: str, problems: list[str]) -> Condition | None:
    if not isinstance(raw, Mapping):
        problems.append(f'{path}: must be an object such as {{"type": "no_reply", "after": "5m"}}')
        return None
    kind, after = _kind(raw.get("type"), path, problems), _after(raw.get("after"), path, problems)
    return Condition(kind, after) if kind is not None and after is not None else None


def _text(raw: Mapping[str, Any], key: str, path: str, problems: list[str]) -> str | None:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{path}.{key}: must be a non-empty string")
        return None
    return value.strip()


def _task(raw: Any, path: str, problems: list[str]) -> BotMessage | AddMembers | None:
    shapes = '{"bot": "…", "message": "…"} or {"add_members": ["101", …]}'
    if raw is None:
        problems.append(f"{path}: is required: {shapes}")
        return None
    if not isinstance(raw, Mapping) or not ({"bot", "message", "add_members"} & raw.keys()):
        problems.append(f"{path}: must be {shapes}")
        return None
    is_bot, is_add = "bot" in raw or "message" in raw, "add_members" in raw
    if is_bot and is_add:
        problems.append(f"{path}: has both a bot message and add_members; an action has one task")
        return None
    if is_bot:
        bot, message = _text(raw, "bot", path, problems), _text(raw, "message", path, problems)
        if message is not None and len(message) > MAX_MESSAGE_LENGTH:
            problems.append(f"{path}.message: is longer than {MAX_MESSAGE_LENGTH} characters")
            return None
        return BotMessage(bot, message) if bot is not None and message is not None else None
    members = raw["add_members"]
    if not isinstance(members, list) or not members or not all(isinstance(m, str) and m.strip() for m in members):
        problems.append(f"{path}.add_members: must be a non-empty list of extensions")
        return None
    return AddMembers(tuple(dict.fromkeys(m.strip() for m in members)))


def _action(raw: Any, path: str, problems: list[str]) -> Action | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{path}: must be an object with name, conditions and task")
        return None
    before = len(problems)
    name = _text(raw, "name", path, problems)
    conditions_raw = raw.get("conditions", [])
    conditions: list[Condition | None] = []
    if not isinstance(conditions_raw, list):
        problems.append(f"{path}.conditions: must be a list")
    elif len(conditions_raw) > MAX_CONDITIONS:
        problems.append(f"{path}.conditions: at most {MAX_CONDITIONS} conditions, not {len(conditions_raw)}")
    else:
        conditions = [_condition(c, f"{path}.conditions[{i}]", problems) for i, c in enumerate(conditions_raw)]
    task = _task(raw.get("task"), f"{path}.task", problems)
    once = raw.get("once_per_conversation", False)
    if not isinstance(once, bool):
        problems.append(f"{path}.once_per_conversation: must be true or false")
    if len(problems) > before or name is None or task is None:
        return None
    return Action(name, tuple(c for c in conditions if c is not None), task, bool(once))


def parse_actions(docs: Sequence[Mapping[str, Any]], path: str = "actions") -> tuple[Action, ...]:
    """Read a number's actions from ``[{"name", "conditions": [{"type", "after"}], "task", "once_per_conversation"}]``.

    A task is ``{"bot": name, "message": text}`` or ``{"add_members": [extensions]}``. Names must be unique (they
    key the "once per conversation" record). Raises ActionsError naming every problem by its path.
    """
    if not isinstance(docs, Sequence) or isinstance(docs, str):
        raise ActionsError([f"{path}: must be a list of actions"])
    problems: list[str] = []
    actions = [_action(raw, f"{path}[{i}]", problems) for i, raw in enumerate(docs)]
    seen: set[str] = set()
    for i, action in enumerate(actions):
        if action is None:
            continue
        if action.name in seen:
            problems.append(f'{path}[{i}].name: "{action.name}" is already the name of another action')
        seen.add(action.name)
    if problems:
        raise ActionsError(problems)
    return tuple(a for a in actions if a is not None)


def actions_to_docs(actions: Sequence[Action]) -> list[dict[str, Any]]:
    """The document form of ``actions`` (for the API and the provisioning file); ``parse_actions`` reads it back."""
    docs: list[dict[str, Any]] = []
    for action in actions:
        task: dict[str, Any] = (
            {"bot": action.task.bot, "message": action.task.message}
            if isinstance(action.task, BotMessage)
            else {"add_members": list(action.task.extensions)}
        )
        conditions = [{"type": c.kind.value, "after": format_duration(c.after)} for c in action.conditions]
        docs.append(
            {
                "name": action.name,
                "conditions": conditions,
                "task": task,
                "once_per_conversation": action.once_per_conversation,
            }
        )
    return docs


# -- semantics -------------------------------------------------------------------------------------------------------


def _anchor(kind: ConditionKind, state: ConversationState) -> datetime | None:
    """The instant a condition's clock runs from."""
    return state.last_activity_at if kind is ConditionKind.NO_ACTIVITY else state.last_inbound_at


def _pending(kind: ConditionKind, state: ConversationState) -> bool:
    """Whether a condition holds apart from time: it will hold once enough time passes with nothing new."""
    inbound = state.last_inbound_at
    if kind is ConditionKind.NO_REPLY:
        return inbound is not None and (state.last_reply_at is None or state.last_reply_at < inbound)
    if kind is ConditionKind.NOT_READ:
        return inbound is not None and (state.last_read_at is None or state.last_read_at < inbound)
    return state.last_activity_at is not None


def holds(condition: Condition, state: ConversationState, now: datetime) -> bool:
    """Whether ``condition`` holds at ``now``.

    no_reply: the customer wrote after the last reply, ``after`` ago or more. not_read: the customer's last message
    is unread by every participant, ``after`` after it arrived. no_activity: no message either way for ``after``.
    """
    anchor = _anchor(condition.kind, state)
    return anchor is not None and _pending(condition.kind, state) and now - anchor >= condition.after


def due_at(action: Action, state: ConversationState) -> datetime | None:
    """When all of ``action``'s conditions can first hold: the latest of each anchor + ``after``.

    None for an action without conditions (it runs at once) or when an anchor is missing (nothing to time from).
    """
    if not action.conditions:
        return None
    times = [(_anchor(c.kind, state), c.after) for c in action.conditions]
    if any(anchor is None for anchor, _ in times):
        return None
    return max(anchor + after for anchor, after in times if anchor is not None)


def _spent(action: Action, state: ConversationState) -> bool:
    return action.once_per_conversation and action.name in state.fired


def should_fire(action: Action, state: ConversationState, now: datetime) -> bool:
    """All conditions hold at ``now`` and the action is not a once-per-conversation one that already fired."""
    return not _spent(action, state) and all(holds(c, state, now) for c in action.conditions)


def on_inbound(actions: Sequence[Action], state: ConversationState, now: datetime) -> list[tuple[Action, datetime]]:
    """The actions to arm after an inbound customer message (``state`` already includes it), with their fire times.

    An action without conditions fires at ``now``; others when their conditions can first hold (never before
    ``now``). Once-per-conversation actions that already fired here are left out.
    """
    armed: list[tuple[Action, datetime]] = []
    for action in actions:
        if _spent(action, state):
            continue
        if not action.conditions:
            armed.append((action, now))
            continue
        due = due_at(action, state)
        if due is not None:
            armed.append((action, max(due, now)))
    return armed


def on_timer(action: Action, state: ConversationState, now: datetime) -> TimerOutcome:
    """What an armed timer does when it comes due at ``now``, judged on the conversation as it is now.

    Fire when ``should_fire``. Wait (``recheck_at``) when every condition still holds apart from time but an anchor
    moved later (an agent's message restarts *no activity*). Otherwise cancel: someone replied, read, or the action
    already fired once.
    """
    if should_fire(action, state, now):
        return TimerOutcome(fire=True)
    if _spent(action, state) or not all(_pending(c.kind, state) for c in action.conditions):
        return TimerOutcome(fire=False)
    due = due_at(action, state)
    return TimerOutcome(fire=False, recheck_at=due if due is not None and due > now else None)
