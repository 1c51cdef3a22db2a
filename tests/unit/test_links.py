"""Links in SMS (issue 14 §4): finding them, leaving Parley's own reply links out, judging by transport."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.links import LinkRule, LinkVerdict, find_links, judge_links, possible_transports
from parley.core.routing import TransportInfo

OWN = "https://sms.example.com/r/"


@pytest.mark.parametrize(
    ("text", "links"),
    [
        pytest.param("Offer at https://shop.example/deal?x=1 today", ["https://shop.example/deal?x=1"], id="https"),
        pytest.param("see http://a.b", ["http://a.b"], id="http"),
        pytest.param("Visit www.acme.test.", ["www.acme.test"], id="www-trailing-dot"),
        pytest.param("Go to bit.ly/3xYz!", ["bit.ly/3xYz"], id="shortener"),
        pytest.param("Rates: acme.com, acme.it; ok", ["acme.com", "acme.it"], id="bare-domains"),
        pytest.param("(details: HTTPS://EXAMPLE.COM/A)", ["HTTPS://EXAMPLE.COM/A"], id="upper-case-in-brackets"),
        pytest.param("Mail me at anna@example.com", [], id="e-mail-is-not-a-link"),
        pytest.param("Meet at 10.30, e.g. room 5. Thanks.", [], id="times-and-abbreviations"),
        pytest.param("file report.pdf and v1.2.3", [], id="no-known-tld"),
        pytest.param("Answer here: https://sms.example.com/r/Ab3_x9", [], id="own-reply-link"),
        pytest.param("https://sms.example.com/r/Ab3@evil.com", ["https://sms.example.com/r/Ab3@evil.com"],
                     id="own-prefix-with-more-is-a-link"),
        pytest.param("https://sms.example.com/other", ["https://sms.example.com/other"], id="own-host-not-reply"),
        pytest.param("", [], id="empty"),
    ],
)  # fmt: skip
def test_links_are_found_as_a_phone_would_show_them(text: str, links: list[str]) -> None:
    assert find_links(text, OWN) == links


CURL = TransportInfo("curl", "curl")
GSM_A = TransportInfo("gsm-a", "gsm", "aa")
GSM_B = TransportInfo("gsm-b", "gsm", "bb")
CARRIER = TransportInfo("carrier", "carrier")


@pytest.mark.parametrize(
    ("rules", "gsm", "carrier", "expected"),
    [
        pytest.param([LinkRule(CURL), LinkRule(GSM_A), LinkRule(CARRIER)], None, None, ["curl"], id="curl-first"),
        pytest.param([LinkRule(GSM_A), LinkRule(GSM_B), LinkRule(CARRIER)], None, None, ["gsm-a", "gsm-b"],
                     id="any-gateway"),
        pytest.param([LinkRule(CURL), LinkRule(GSM_B)], "bb", None, ["gsm-b"], id="gsm-named"),
        pytest.param([LinkRule(CURL), LinkRule(CARRIER)], None, "carrier", ["carrier"], id="number-carrier"),
        pytest.param([], None, None, [], id="none"),
    ],
)  # fmt: skip
def test_possible_transports_follow_the_routing_order(
    rules: list[LinkRule], gsm: str | None, carrier: str | None, expected: list[str]
) -> None:
    assert [r.transport.name for r in possible_transports(rules, gsm=gsm, carrier=carrier)] == expected


@pytest.mark.parametrize(
    ("policies", "text", "policy", "transport"),
    [
        pytest.param(["allow", "allow"], "www.a.com", "allow", None, id="allowed"),
        pytest.param(["allow", "warn"], "www.a.com", "warn", "gsm-b", id="warn"),
        pytest.param(["warn", "refuse"], "www.a.com", "refuse", "gsm-b", id="strictest-refuses"),
        pytest.param(["refuse", "refuse"], "no link here", "allow", None, id="no-link"),
        pytest.param(["refuse"], f"{OWN}abc", "allow", None, id="own-link"),
    ],
)
def test_the_strictest_possible_transport_judges(
    policies: list[str], text: str, policy: str, transport: str | None
) -> None:
    rules = [LinkRule(t, p) for t, p in zip((GSM_A, GSM_B), policies, strict=False)]
    verdict = judge_links(text, rules, OWN)
    assert (verdict.policy, verdict.transport) == (policy, transport)


def test_a_verdict_names_the_links_and_the_transport() -> None:
    verdict = LinkVerdict("refuse", ("a.com", "b.com", "c.com", "d.com"), "gsm-a")
    assert verdict.reason() == (
        'the message has a link (a.com, b.com, c.com …), and the transport "gsm-a" refuses links in SMS'
    )


@given(st.text(max_size=300))
def test_finding_links_never_fails_and_finds_only_what_is_in_the_text(text: str) -> None:
    for link in find_links(text, OWN):
        assert link and link in text
        assert not any(c.isspace() for c in link)


@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60),
    st.from_regex(r"[a-z0-9]{1,12}\.(com|it|io)(/[a-z0-9]{0,8})?", fullmatch=True),
    st.text(max_size=60),
)
def test_a_link_between_spaces_is_always_found(before: str, link: str, after: str) -> None:
    found = find_links(f"{before} https://{link} {after}", OWN)
    assert f"https://{link}" in found


@given(st.from_regex(r"[A-Za-z0-9_-]{1,16}", fullmatch=True), st.text(max_size=40))
def test_own_reply_links_are_never_counted(token: str, around: str) -> None:
    assert f"{OWN}{token}" not in find_links(f"{around} {OWN}{token} {around}", OWN)
