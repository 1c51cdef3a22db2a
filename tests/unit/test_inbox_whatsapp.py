"""The inbox's WhatsApp parts that are pure (web/inbox_whatsapp.py): the composer's channel and window as the server
counts them, the countdown, WhatsApp's ticks, a fallback route as one line, and the picker's template value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.services.directory import Config, WhatsAppNumber
from parley.services.errors import ServiceError
from parley.web.inbox_whatsapp import composer_state, countdown, describe_route, status_label, template_spec
from parley.web.templating import set_timezone

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
COMPANY = "+15551230001"


def config(on_whatsapp: bool = True) -> Config:
    numbers = {COMPANY: WhatsAppNumber("wa-main", "102290129340398")} if on_whatsapp else {}
    return Config(prices=(), gateway_ids=frozenset(), country="US", timezone="UTC", settings={}, whatsapp=numbers)


def conversation(**changes: Any) -> dict[str, Any]:
    return {"company_number": COMPANY, "external_number": "+15557654321", "last_channel": "sms",
            "whatsapp_window_expires_at": None} | changes  # fmt: skip


def test_a_number_not_on_whatsapp_has_no_whatsapp_composer() -> None:
    assert composer_state(conversation(), config(on_whatsapp=False), NOW) is None


@pytest.mark.parametrize(
    ("changes", "channel", "sms_possible"),
    [
        pytest.param({}, "sms", True, id="last-wrote-by-sms"),
        pytest.param({"last_channel": "whatsapp"}, "whatsapp", True, id="last-wrote-on-whatsapp"),
        pytest.param(
            {"external_number": None, "external_id": "US.1349120865530274"}, "whatsapp", False, id="no-phone-number"
        ),
    ],
)
def test_the_channel_preselected_is_the_customers_last(
    changes: dict[str, Any], channel: str, sms_possible: bool
) -> None:
    state = composer_state(conversation(**changes), config(), NOW)
    assert state is not None and (state.channel, state.sms_possible) == (channel, sms_possible)


def test_the_window_is_counted_from_the_servers_clock() -> None:
    expires = NOW + timedelta(hours=23, minutes=41, seconds=12)
    state = composer_state(conversation(last_channel="whatsapp", whatsapp_window_expires_at=expires), config(), NOW)
    assert state is not None and state.window_open and not state.templates_only
    assert (state.seconds_left, countdown(state.seconds_left)) == (85272, "23:41:12")

    later = composer_state(conversation(last_channel="whatsapp", whatsapp_window_expires_at=expires), config(),
                           NOW + timedelta(days=1))  # fmt: skip
    assert later is not None and (later.seconds_left, later.window_open, later.templates_only) == (0, False, True)


def test_without_a_whatsapp_message_the_window_never_opened_and_sms_stays_free() -> None:
    state = composer_state(conversation(), config(), NOW)
    assert state is not None and (state.window_open, state.templates_only, state.expires_at) == (False, False, None)


def test_whatsapp_statuses_show_ticks_and_sms_statuses_their_word() -> None:
    assert [status_label("whatsapp", s) for s in ("sent", "delivered", "read", "failed")] == [
        "✓ sent", "✓✓ delivered", "✓✓ read", "failed"
    ]  # fmt: skip
    assert status_label("sms", "delivered") == "delivered"


def test_a_fallback_route_reads_as_one_line() -> None:
    set_timezone("UTC")  # times are shown in the PBX's zone (process-wide)
    route = [
        {"channel": "whatsapp", "at": "2026-11-30T10:02:00Z", "outcome": "failed", "code": "131026",
         "detail": "Message undeliverable"},
        {"channel": "sms", "at": "2026-11-30T10:03:00Z", "outcome": "queued"},
    ]  # fmt: skip
    assert describe_route(route, "delivered") == (
        "Tried WhatsApp at 10:02, failed with 131026 (Message undeliverable); sent by SMS at 10:03"
    )
    assert describe_route(route, "queued") == (
        "Tried WhatsApp at 10:02, failed with 131026 (Message undeliverable); by SMS since 10:03: queued"
    )
    closed = [{"channel": "whatsapp", "at": "2026-11-30T10:02:00Z", "outcome": "not sent", "detail": "window closed"},
              {"channel": "sms", "at": "2026-11-30T10:02:00Z", "outcome": "queued"}]  # fmt: skip
    assert describe_route(closed, "sent") == "Not sent by WhatsApp at 10:02 (window closed); sent by SMS at 10:02"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
steps = st.fixed_dictionaries(
    {},
    optional={
        "channel": st.sampled_from(["sms", "whatsapp", "mms"]) | json_values,
        "at": st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()) | json_values,
        "outcome": st.sampled_from(["failed", "not sent", "queued"]) | json_values,
        "code": json_values,
        "detail": json_values,
    },
)


@given(route=json_values | st.lists(steps | json_values, max_size=5), status=st.text(max_size=12))
def test_any_stored_route_is_described_without_failing(route: object, status: str) -> None:
    assert isinstance(describe_route(route, status), str)


def test_the_pickers_value_becomes_a_template_send_or_a_refusal_naming_the_field() -> None:
    spec = template_spec("order_update|en_US", ["4711"])
    assert (spec.name, spec.language, spec.variables) == ("order_update", "en_US", ("4711",))
    with pytest.raises(ServiceError) as refused:
        template_spec("order_update|en_US", [""])
    assert (refused.value.status, refused.value.field) == (422, "template.variables[0]")
    with pytest.raises(ServiceError) as nameless:
        template_spec("", [])
    assert nameless.value.field == "template.name"


@given(key=st.text(max_size=40), variables=st.lists(st.text(max_size=20), max_size=4))
def test_any_posted_template_value_is_a_send_or_a_422_naming_the_template(key: str, variables: list[str]) -> None:
    try:
        spec = template_spec(key, variables)
    except ServiceError as exc:
        assert exc.status == 422 and (exc.field or "").startswith("template")
    else:
        assert spec.name and len(spec.variables) == len(variables)
