"""Who joins a conversation, as a table of cases (issue 3 §3 and §5)."""

from __future__ import annotations

import pytest

from parley.core.licenses import License
from parley.core.membership import Candidate, Joining, Presence, Route, who_joins

B = License.BUSINESS
ALICE, BOB, CARL, DORA = (
    Candidate(1, B),
    Candidate(2, License.PREMIUM),
    Candidate(3, License.ESSENTIAL),
    Candidate(4, B),
)
IN, LEFT, REMOVED = Presence(True), Presence(False), Presence(False, removed_by_agent=True)


@pytest.mark.parametrize(
    ("route", "route_users", "service", "office", "present", "expected"),
    [
        pytest.param(
            None,
            [],
            [ALICE, BOB, CARL],
            [],
            {},
            Joining((1, 2), (), False),
            id="new-conversation-takes-the-services-static-members-with-business-license",
        ),
        pytest.param(
            None,
            [],
            [ALICE, BOB],
            [],
            {"u:1": IN, "u:2": LEFT},
            Joining((), (), False),
            id="someone-still-in-so-leavers-are-not-re-added",
        ),
        pytest.param(
            None,
            [],
            [ALICE, BOB],
            [],
            {"u:1": LEFT, "u:2": LEFT},
            Joining((1, 2), (), False),
            id="everyone-left-so-the-service-members-come-back",
        ),
        pytest.param(
            None, [], [], [DORA, CARL], {}, Joining((4,), (), False), id="no-service-so-users-whose-office-number-it-is"
        ),
        pytest.param(None, [], [CARL], [], {}, Joining((), (), True), id="nobody-licensed-so-unrouted"),
        pytest.param(None, [], [], [], {}, Joining((), (), True), id="nobody-at-all-so-unrouted"),
        pytest.param(
            Route("agent", "104"),
            [DORA],
            [ALICE, BOB],
            [],
            {},
            Joining((4,), (), False),
            id="agent-routing-names-one-agent",
        ),
        pytest.param(
            Route("agent", "104"),
            [DORA],
            [ALICE],
            [],
            {"u:4": LEFT, "u:1": IN},
            Joining((4,), (), False),
            id="routed-agent-who-left-is-re-added",
        ),
        pytest.param(
            Route("agent", "103"),
            [CARL],
            [ALICE],
            [],
            {},
            Joining((1,), (), False),
            id="routed-agent-without-license-falls-back-to-the-service",
        ),
        pytest.param(
            Route("group", "Sales"),
            [ALICE, BOB],
            [DORA],
            [],
            {},
            Joining((1, 2), (), False),
            id="group-routing-adds-the-groups-members",
        ),
        pytest.param(
            Route("group", "Sales"),
            [ALICE, BOB],
            [],
            [],
            {"u:2": IN},
            Joining((), (), False),
            id="group-member-still-in-so-nobody-added",
        ),
        pytest.param(
            Route("group", "Sales"),
            [ALICE, BOB],
            [],
            [],
            {"u:4": IN},
            Joining((1, 2), (), False),
            id="no-group-member-in-so-all-added-even-with-others-present",
        ),
        pytest.param(
            Route("bot", "Night"), [], [ALICE], [], {}, Joining((), ("Night",), False), id="bot-routing-adds-the-bot"
        ),
        pytest.param(
            Route("bot", "Night"),
            [],
            [ALICE],
            [],
            {"b:Night": REMOVED, "u:1": IN},
            Joining((), (), False),
            id="a-bot-an-agent-removed-stays-out",
        ),
    ],
)
def test_who_joins(
    route: Route | None,
    route_users: list[Candidate],
    service: list[Candidate],
    office: list[Candidate],
    present: dict[str, Presence],
    expected: Joining,
) -> None:
    got = who_joins(route=route, route_users=route_users, service_members=service, office_users=office, present=present)
    assert got == expected
