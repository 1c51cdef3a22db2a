"""A company number's (or a service's) conversation settings, seed 002. Pure.

    routing       who joins in working hours:   {"type": "agent" | "group" | "bot", "target": "..."}
    out_of_hours  who joins out of hours (optional; else `routing`)
    hours         working hours (core.hours), e.g. {"timezone": "Europe/Rome", "rules": [...]}
    actions       timed actions (core.actions)
    fallback      "sms": a WhatsApp message that cannot be delivered goes as SMS (issue 12 §7); off when absent
    fallback_after  how long a WhatsApp message may stay undelivered before it goes as SMS (e.g. "10m")

A number without settings of its own takes its linked service's: such a number is *partially
configured* until an admin saves settings on the number itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from parley.core.actions import Action, ActionsError, actions_to_docs, format_duration, parse_actions, parse_duration
from parley.core.hours import HoursError, WorkingHours, hours_to_doc, is_open, parse_hours
from parley.core.membership import Route, RouteKind

ROUTE_KINDS: tuple[RouteKind, ...] = ("agent", "group", "bot")
KEYS = ("routing", "out_of_hours", "hours", "actions", "fallback", "fallback_after")
FALLBACKS = ("sms",)
MIN_FALLBACK_AFTER = timedelta(seconds=30)
MAX_FALLBACK_AFTER = timedelta(days=1)


class ConfigError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class NumberConfig:
    routing: Route | None = None
    out_of_hours: Route | None = None
    hours: WorkingHours | None = None
    actions: tuple[Action, ...] = ()
    fallback: str | None = None
    fallback_after: timedelta | None = None

    @property
    def empty(self) -> bool:
        """No conversation settings (the WhatsApp fallback is the number's own and never inherited)."""
        return (self.routing, self.out_of_hours, self.hours, self.actions) == (None, None, None, ())

    def is_open(self, at: datetime) -> bool:
        return is_open(self.hours, at)

    def route_at(self, at: datetime) -> Route | None:
        """The routing for this moment: out-of-hours routing when closed (if set), else the routing."""
        if not self.is_open(at) and self.out_of_hours is not None:
            return self.out_of_hours
        return self.routing

    def action(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)


def _route(value: Any, path: str, problems: list[str]) -> Route | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        problems.append(f'{path}: must be a table like {{type = "group", target = "Support"}}')
        return None
    kind, target = value.get("type"), value.get("target")
    if kind not in ROUTE_KINDS:
        problems.append(f'{path}.type: "{kind}" is not one of {", ".join(ROUTE_KINDS)}')
    if not isinstance(target, str) or not target.strip():
        problems.append(f"{path}.target: is required (an extension, a service or a bot name)")
    if problems and (kind not in ROUTE_KINDS or not isinstance(target, str)):
        return None
    return Route(cast(RouteKind, kind), str(target).strip())


def parse_config(doc: Mapping[str, Any], path: str) -> NumberConfig:
    """Read the settings keys of one number (or service) entry; raise `ConfigError` naming every problem."""
    problems: list[str] = []
    routing = _route(doc.get("routing"), f"{path}.routing", problems)
    out_of_hours = _route(doc.get("out_of_hours"), f"{path}.out_of_hours", problems)
    hours = None
    if doc.get("hours") is not None:
        if isinstance(doc["hours"], Mapping):
            try:
                hours = parse_hours(doc["hours"], f"{path}.hours")
            except HoursError as exc:
                problems += exc.problems
        else:
            problems.append(f"{path}.hours: must be a table with timezone and rules")
    actions: tuple[Action, ...] = ()
    if doc.get("actions") is not None:
        if isinstance(doc["actions"], list):
            try:
                actions = parse_actions(doc["actions"], f"{path}.actions")
            except ActionsError as exc:
                problems += exc.problems
        else:
            problems.append(f"{path}.actions: must be an array of tables")
    if out_of_hours is not None and hours is None:
        problems.append(f"{path}.out_of_hours: needs hours (working hours) to know when it applies")
    fallback, after = _fallback(doc, path, problems)
    if problems:
        raise ConfigError(problems)
    return NumberConfig(routing, out_of_hours, hours, actions, fallback, after)


def _fallback(doc: Mapping[str, Any], path: str, problems: list[str]) -> tuple[str | None, timedelta | None]:
    fallback, after = doc.get("fallback"), None
    if fallback is not None and fallback not in FALLBACKS:
        problems.append(f'{path}.fallback: "{fallback}" is not one of {", ".join(FALLBACKS)}')
        fallback = None
    if doc.get("fallback_after") is not None:
        try:
            after = parse_duration(doc["fallback_after"])
        except ValueError as exc:
            problems.append(f"{path}.fallback_after: {exc}")
        else:
            if not MIN_FALLBACK_AFTER <= after <= MAX_FALLBACK_AFTER:
                problems.append(f"{path}.fallback_after: must be between 30s and 1d")
        if doc.get("fallback") is None:
            problems.append(f'{path}.fallback_after: needs fallback = "sms"')
    return fallback, after


def config_to_doc(config: NumberConfig) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, route in (("routing", config.routing), ("out_of_hours", config.out_of_hours)):
        if route is not None:
            doc[key] = {"type": route.kind, "target": route.target}
    if config.hours is not None:
        doc["hours"] = hours_to_doc(config.hours)
    if config.actions:
        doc["actions"] = actions_to_docs(config.actions)
    if config.fallback is not None:
        doc["fallback"] = config.fallback
    if config.fallback_after is not None:
        doc["fallback_after"] = format_duration(config.fallback_after)
    return doc


def effective(number: NumberConfig | None, service: NumberConfig | None) -> tuple[NumberConfig, bool]:
    """The settings in force and whether they are only the service's (the number is partially configured)."""
    if number is not None and not number.empty:
        return number, False
    if service is not None and not service.empty:
        return service, True
    return NumberConfig(), False


def config_from_doc(doc: Mapping[str, Any] | None, path: str = "config") -> NumberConfig | None:
    """Settings stored by `config_to_doc` (already checked when saved)."""
    return parse_config(doc, path) if doc else None
