"""Who joins a conversation opened (or continued) by an inbound message. Pure.

The rules (issue 3, seeds 001 and 002), in order:

1. The number's routing for this moment (working hours or out of hours), if any:
   - *agent*: that agent; an agent who left is re-added by the next inbound message;
   - *group* (a service): all the service's static members, but only when none of them is in the
     conversation;
   - *bot*: the bot, unless an agent removed it from this conversation (then it stays out).
2. Else the service that owns the number: its static members, when no user is in the conversation
   (a new conversation, or everyone left).
3. Else the users whose office number is the number, on the same condition.

Only users whose license allows conversations (business or higher) ever join; dynamic members never
do. When nobody can join, the conversation is *unrouted* and admins see it — the message is never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from parley.core.licenses import License

RouteKind = Literal["agent", "group", "bot"]


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    target: str  # an extension, a service name or a bot name


@dataclass(frozen=True)
class Candidate:
    user_id: int
    license: License


@dataclass(frozen=True)
class Presence:
    """A participant as the conversation knows it."""

    active: bool
    removed_by_agent: bool = False


@dataclass(frozen=True)
class Joining:
    users: tuple[int, ...]
    bots: tuple[str, ...]
    unrouted: bool


def user_key(user_id: int) -> str:
    return f"u:{user_id}"


def bot_key(name: str) -> str:
    return f"b:{name}"


def _eligible(candidates: Iterable[Candidate]) -> list[int]:
    return [c.user_id for c in candidates if c.license.may_converse]


def _active_users(present: Mapping[str, Presence]) -> set[int]:
    return {int(k[2:]) for k, p in present.items() if k.startswith("u:") and p.active}


def who_joins(
    *,
    route: Route | None,
    route_users: Sequence[Candidate],
    service_members: Sequence[Candidate],
    office_users: Sequence[Candidate],
    present: Mapping[str, Presence],
) -> Joining:
    """Members to add (or bring back) for one inbound message.

    ``route_users`` are the users the route names (the agent, or the group's static members);
    ``service_members`` the static members of the service that owns the number; ``office_users``
    the users whose office number is the number; ``present`` the conversation's participants by key.
    """
    active = _active_users(present)
    if route is not None:
        if route.kind == "bot":
            presence = present.get(bot_key(route.target))
            if presence is not None and presence.removed_by_agent:
                return Joining((), (), unrouted=not active and not _any_bot_active(present))
            return Joining((), (route.target,), unrouted=False)
        eligible = _eligible(route_users)
        if route.kind == "agent" and eligible:
            return Joining(tuple(u for u in eligible if u not in active), (), unrouted=False)
        if route.kind == "group" and eligible:
            joining = () if active & set(eligible) else tuple(eligible)
            return Joining(joining, (), unrouted=False)
    for candidates in (service_members, office_users):
        eligible = _eligible(candidates)
        if eligible:
            return Joining(() if active else tuple(eligible), (), unrouted=False)
    return Joining((), (), unrouted=not active and not _any_bot_active(present))


def _any_bot_active(present: Mapping[str, Presence]) -> bool:
    return any(k.startswith("b:") and p.active for k, p in present.items())
