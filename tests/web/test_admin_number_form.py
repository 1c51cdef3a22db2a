"""The number screen's form ↔ settings document, and where each problem is shown. Pure: no server, no browser."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import FormData, UploadFile

from parley.core.number_config import ConfigError, config_to_doc, parse_config
from parley.web import number_form

SETTINGS = {
    "routing": {"type": "group", "target": "Support"},
    "out_of_hours": {"type": "bot", "target": "Night bot"},
    "hours": {"timezone": "Europe/Rome", "rules": [{"days": ["mon", "tue"], "ranges": ["09:00-13:00", "14:00-18:00"]}]},
    "actions": [
        {
            "name": "Nudge",
            "conditions": [{"type": "no_reply", "after": "5m"}],
            "task": {"add_members": ["102", "103"]},
            "once_per_conversation": True,
        }
    ],
    "fallback": "sms",
    "fallback_after": "10m",
}


def submitted(values: dict[str, Any]) -> FormData:
    """What the browser posts for ``values`` as the template draws them."""
    pairs: list[tuple[str, str | UploadFile]] = [
        ("linked_service", str(values["linked_service"])),
        ("routing", str(values["routing"])),
        ("out_of_hours", str(values["out_of_hours"])),
        ("timezone", str(values["timezone"])),
        ("rule_count", str(len(values["rules"]))),
        ("action_count", str(len(values["actions"]))),
        ("fallback", str(values["fallback"])),
        ("fallback_after", str(values["fallback_after"])),
    ]
    if values["hours_enabled"]:
        pairs.append(("hours_enabled", "on"))
    for i, rule in enumerate(values["rules"]):
        pairs += [(f"rule{i}_days", d) for d in rule["days"]] + [(f"rule{i}_ranges", rule["ranges"])]
    for i, a in enumerate(values["actions"]):
        p = f"action{i}_"
        pairs += [(f"{p}name", a["name"]), (f"{p}task", a["task"]), (f"{p}bot", a["bot"]),
                  (f"{p}message", a["message"]), (f"{p}members", a["members"])]  # fmt: skip
        for j, c in enumerate(a["conditions"]):
            pairs += [(f"{p}cond{j}_type", c["type"]), (f"{p}cond{j}_after", c["after"])]
        if a["once"]:
            pairs.append((f"{p}once", "on"))
    return FormData(pairs)


def test_saved_settings_come_back_unchanged_through_the_form() -> None:
    values = number_form.from_settings("Support", SETTINGS, "UTC")
    assert values["routing"] == "group:Support" and values["rules"][0]["ranges"] == "09:00-13:00, 14:00-18:00"
    doc = number_form.to_settings(number_form.from_form(submitted(values)))
    assert doc.pop("linked_service") == "Support"
    assert config_to_doc(parse_config(doc, "settings")) == SETTINGS


def test_adding_and_removing_rows_keeps_what_was_typed_in_the_others() -> None:
    values = number_form.from_settings(None, {}, "America/New_York")
    assert values["hours_enabled"] is False and values["timezone"] == "America/New_York"
    values = number_form.edit(number_form.edit(values, "add_rule"), "add_rule")
    values["rules"][1]["ranges"] = "22:00-02:00"
    values = number_form.edit(values, "remove_rule:0")
    assert values["hours_enabled"] is True
    assert [r["ranges"] for r in values["rules"]] == ["22:00-02:00"]
    assert number_form.edit(values, "remove_rule:7") == values  # a stale index changes nothing
    assert len(number_form.edit(values, "add_action")["actions"]) == 1


@pytest.mark.parametrize(
    ("problem", "field"),
    [
        pytest.param("settings.linked_service: x", "linked_service", id="linked-service"),
        pytest.param("settings.out_of_hours.target: x", "out_of_hours", id="out-of-hours-target"),
        pytest.param("settings.hours.timezone: x", "timezone", id="timezone"),
        pytest.param("settings.hours.rules[1].days[0]: x", "rule1_days", id="rule-day"),
        pytest.param("settings.hours.rules[0].ranges[2]: x", "rule0_ranges", id="rule-range"),
        pytest.param("settings.actions[0].conditions[2].after: x", "action0_cond2_after", id="condition-after"),
        pytest.param("settings.actions[1].conditions[0].type: x", "action1_cond0_type", id="condition-type"),
        pytest.param("settings.actions[0].conditions: x", "action0_cond0_after", id="too-many-conditions"),
        pytest.param("settings.actions[0].task.bot: x", "action0_bot", id="task-bot"),
        pytest.param("settings.actions[0].task.add_members: x", "action0_members", id="task-members"),
        pytest.param("settings.actions[0].task: x", "action0_task", id="task"),
        pytest.param("settings.actions[2].name: x", "action2_name", id="action-name"),
        pytest.param("+15551230001 is not a company number", "", id="no-field"),
    ],
)
def test_each_problem_is_shown_under_the_field_that_holds_it(problem: str, field: str) -> None:
    assert number_form.problem_fields([problem]) == {field: "x" if field else problem}


def test_what_the_core_refuses_lands_next_to_the_rows_typed() -> None:
    values = number_form.edit(number_form.edit(number_form.from_settings(None, {}, "UTC"), "add_rule"), "add_action")
    values["rules"][0]["ranges"] = "25:00-26:00"
    values["actions"][0].update(name="N", task="members", members="102")
    values["actions"][0]["conditions"][1] = {"type": "no_reply", "after": "2s"}
    with pytest.raises(ConfigError) as caught:
        parse_config(number_form.to_settings(number_form.from_form(submitted(values))), "settings")
    errors = number_form.problem_fields(caught.value.problems)
    # The one condition filled in (the second slot) moves up to the first, and its problem with it.
    assert set(errors) == {"rule0_ranges", "action0_cond0_after"}
    assert "shorter than 5 seconds" in errors["action0_cond0_after"]


def test_a_fallback_problem_is_shown_under_its_field() -> None:
    assert number_form.problem_fields(["settings.fallback_after: must be between 30s and 1d"]) == {
        "fallback_after": "must be between 30s and 1d"
    }
    assert number_form.problem_fields(['settings.fallback: "fax" is not one of sms']) == {
        "fallback": '"fax" is not one of sms'
    }
