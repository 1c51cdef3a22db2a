"""The number configuration screen's form (seed 002) and the settings document `Numbers.configure` takes.

Rows are numbered fields: ``rule0_days`` (checkboxes), ``rule0_ranges``; ``action0_name``, ``action0_cond1_type``,
``action0_cond1_after``, ``action0_task``, ``action0_bot``, ``action0_message``, ``action0_members``,
``action0_once``. Adding or removing a rule or an action re-renders the form from what was typed, so the screen
works without JavaScript; only "Save" sends the document. Problems come back named by their path in the document
(``settings.hours.rules[0].ranges[1]: …``) and `problem_fields` puts each under the field that holds it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from parley.core.actions import MAX_CONDITIONS
from parley.core.hours import DAY_NAMES

CONDITION_TYPES = (("no_reply", "No reply"), ("not_read", "Not read"), ("no_activity", "No activity"))
_RULE = re.compile(r"settings\.hours\.rules\[(\d+)\](?:\.(days|ranges))?")
_ACTION = re.compile(r"settings\.actions\[(\d+)\](?:\.(name|once_per_conversation|conditions|task)(?:\[(\d+)\])?)?")
_TASK_FIELDS = {"bot": "bot", "message": "message", "add_members": "members"}


def blank_rule() -> dict[str, Any]:
    return {"days": ["mon", "tue", "wed", "thu", "fri"], "ranges": "09:00-17:00"}


def blank_action() -> dict[str, Any]:
    return {"name": "", "conditions": _slots([]), "task": "bot", "bot": "", "message": "", "members": "", "once": False}


def _slots(conditions: list[dict[str, Any]]) -> list[dict[str, str]]:
    given = [{"type": str(c.get("type", "")), "after": str(c.get("after", ""))} for c in conditions]
    return (given + [{"type": "", "after": ""}] * MAX_CONDITIONS)[: max(MAX_CONDITIONS, len(given))]


def _route_value(route: Mapping[str, Any] | None) -> str:
    return f"{route['type']}:{route['target']}" if route else ""


def from_settings(linked_service: str | None, settings: Mapping[str, Any], default_timezone: str) -> dict[str, Any]:
    """The form's values for a number's saved settings."""
    hours = settings.get("hours")
    actions = []
    for a in settings.get("actions", []):
        task = a.get("task", {})
        actions.append(
            {
                "name": a.get("name", ""),
                "conditions": _slots(a.get("conditions", [])),
                "task": "members" if "add_members" in task else "bot",
                "bot": task.get("bot", ""),
                "message": task.get("message", ""),
                "members": ", ".join(task.get("add_members", [])),
                "once": bool(a.get("once_per_conversation")),
            }
        )
    return {
        "linked_service": linked_service or "",
        "routing": _route_value(settings.get("routing")),
        "out_of_hours": _route_value(settings.get("out_of_hours")),
        "hours_enabled": hours is not None,
        "timezone": hours["timezone"] if hours else default_timezone,
        "rules": [{"days": r["days"], "ranges": ", ".join(r["ranges"])} for r in hours["rules"]] if hours else [],
        "actions": actions,
        "fallback": settings.get("fallback") or "",
        "fallback_after": settings.get("fallback_after") or "",
    }


def from_form(form: Any) -> dict[str, Any]:
    """The form's values as submitted (``form`` is Starlette's FormData: checkboxes repeat their name)."""

    def text(key: str) -> str:
        value = form.get(key)
        return value.strip() if isinstance(value, str) else ""

    rules = [
        {"days": [d for d in form.getlist(f"rule{i}_days") if d in DAY_NAMES], "ranges": text(f"rule{i}_ranges")}
        for i in range(_count(text("rule_count")))
    ]
    actions = []
    for i in range(_count(text("action_count"))):
        p = f"action{i}_"
        typed = [{"type": text(f"{p}cond{j}_type"), "after": text(f"{p}cond{j}_after")} for j in range(MAX_CONDITIONS)]
        # Filled slots move up, so that condition j of the form is conditions[j] of the document (and its problems).
        conditions = _slots([c for c in typed if c["type"] or c["after"]])
        actions.append(
            {
                "name": text(f"{p}name"),
                "conditions": conditions,
                "task": "members" if text(f"{p}task") == "members" else "bot",
                "bot": text(f"{p}bot"),
                "message": text(f"{p}message"),
                "members": text(f"{p}members"),
                "once": bool(text(f"{p}once")),
            }
        )
    return {
        "linked_service": text("linked_service"),
        "routing": text("routing"),
        "out_of_hours": text("out_of_hours"),
        "hours_enabled": bool(text("hours_enabled")),
        "timezone": text("timezone"),
        "rules": rules,
        "actions": actions,
        "fallback": text("fallback"),
        "fallback_after": text("fallback_after"),
    }


def _count(raw: str) -> int:
    return min(int(raw), 50) if raw.isdigit() else 0


def edit(values: dict[str, Any], op: str) -> dict[str, Any]:
    """Apply a row operation: ``add_rule``, ``remove_rule:2``, ``add_action``, ``remove_action:0``."""
    name, _, index = op.partition(":")
    rules, actions = list(values["rules"]), list(values["actions"])
    if name == "add_rule":
        rules.append(blank_rule())
        values = {**values, "hours_enabled": True}
    elif name == "add_action":
        actions.append(blank_action())
    elif name == "remove_rule" and index.isdigit() and int(index) < len(rules):
        del rules[int(index)]
    elif name == "remove_action" and index.isdigit() and int(index) < len(actions):
        del actions[int(index)]
    return {**values, "rules": rules, "actions": actions}


def _route(value: str) -> dict[str, str] | None:
    kind, _, target = value.partition(":")
    return {"type": kind, "target": target} if value else None


def to_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """The settings document for `Numbers.configure` (the shape of PUT /api/v2/numbers/{n}/settings)."""
    doc: dict[str, Any] = {"linked_service": values["linked_service"] or None}
    for key in ("routing", "out_of_hours"):
        route = _route(values[key])
        if route is not None:
            doc[key] = route
    if values["hours_enabled"]:
        doc["hours"] = {
            "timezone": values["timezone"],
            "rules": [
                {"days": r["days"], "ranges": [x.strip() for x in r["ranges"].split(",") if x.strip()]}
                for r in values["rules"]
            ],
        }
    actions = []
    for a in values["actions"]:
        conditions = [
            {"type": c["type"] or None, "after": c["after"] or None} for c in a["conditions"] if c["type"] or c["after"]
        ]
        if a["task"] == "members":
            task: dict[str, Any] = {"add_members": [m.strip() for m in a["members"].split(",") if m.strip()]}
        else:
            task = {"bot": a["bot"], "message": a["message"]}
        actions.append({"name": a["name"], "conditions": conditions, "task": task, "once_per_conversation": a["once"]})
    if actions:
        doc["actions"] = actions
    for key in ("fallback", "fallback_after"):  # WhatsApp first, then SMS (a number on WhatsApp)
        if values.get(key):
            doc[key] = values[key]
    return doc


def problem_fields(problems: list[str]) -> dict[str, str]:
    """{form field: message} for `NumberError.all`; a problem no field holds goes under ``""``."""
    errors: dict[str, str] = {}
    for problem in problems:
        path, _, message = problem.partition(": ")
        errors.setdefault(_field(path), message or path)
    return errors


def _field(path: str) -> str:
    for key in ("linked_service", "routing", "out_of_hours", "fallback_after", "fallback"):
        if path.startswith(f"settings.{key}"):
            return key
    if match := _RULE.match(path):
        return f"rule{match[1]}_{match[2] or 'ranges'}"
    if path.startswith("settings.hours"):
        return "timezone" if path.endswith("timezone") else "hours_enabled"
    if match := _ACTION.match(path):
        i, part, j = match[1], match[2], match[3]
        if part == "conditions":
            return f"action{i}_cond{j or 0}_after" if path.endswith("after") or j is None else f"action{i}_cond{j}_type"
        if part == "task":
            last = path.rsplit(".", 1)[-1]
            return f"action{i}_{_TASK_FIELDS.get(last, 'task')}"
        return f"action{i}_{'once' if part == 'once_per_conversation' else 'name'}"
    return ""
