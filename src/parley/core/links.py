"""Links in SMS (issue 14 §4, seed 001: "sending links in SMS may be restricted"). Pure.

Some carriers filter or refuse SMS that carry links. Each transport says what it does with them
(`links = "allow" | "warn" | "refuse"`); a message is judged against the transports that could carry it
(`possible_transports`: the same order `parley.core.routing.choose_transport` follows), the strictest
of them deciding. Parley's own reply links (``PARLEY_PUBLIC_URL/r/<token>``) are not counted: they are
what a customer answers through.

Detection looks for what a phone would make tappable: ``http(s)://`` and ``www.`` addresses, and bare
domains under common top-level domains (``example.com/offer``); an e-mail address is not a link.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from parley.core.routing import ROLES, TransportInfo

POLICIES = ("allow", "warn", "refuse")

# Top-level domains a bare "name.tld" is taken as a link under: the common generic ones, those used by link
# shorteners (bit.ly, t.co, goo.gl) and the European country codes. Others need a scheme or "www.".
_TLDS = (
    "com|net|org|info|biz|io|co|me|ly|gl|app|xyz|online|site|link|click|top|shop|store|live|news|"
    "it|de|fr|es|uk|eu|us|ru|nl|ch|at|be|pl|pt|se|no|dk|fi|ie|gr|cz|ro|hu|sk|si|hr|bg|lt|lv|ee|lu"
)
_URL = re.compile(
    r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"]+"
    rf"|(?<![@\w.-])(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{_TLDS})(?![\w-])(?:/[^\s<>\"]*)?",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)]}'\""
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def find_links(text: str, own_prefix: str = "") -> list[str]:
    """The links in ``text``, in order, without trailing punctuation; Parley's own reply links left out.

    ``own_prefix``: ``PARLEY_PUBLIC_URL/r/``; a link is Parley's own only when a bare token follows it.
    """
    found = []
    for match in _URL.finditer(text):
        link = match.group(0).rstrip(_TRAILING)
        if link and not _is_own(link, own_prefix):
            found.append(link)
    return found


def _is_own(link: str, own_prefix: str) -> bool:
    if not own_prefix or not link.lower().startswith(own_prefix.lower()):
        return False
    return _TOKEN.fullmatch(link[len(own_prefix) :]) is not None


@dataclass(frozen=True)
class LinkRule:
    """A transport that could carry the message, and its `links` setting."""

    transport: TransportInfo
    policy: str = "allow"  # allow | warn | refuse


@dataclass(frozen=True)
class LinkVerdict:
    policy: str  # allow | warn | refuse: what the strictest possible transport does with these links
    links: tuple[str, ...] = ()
    transport: str | None = None  # the transport whose setting decided

    def reason(self) -> str:
        shown = ", ".join(self.links[:3]) + (" …" if len(self.links) > 3 else "")
        if self.policy == "refuse":
            return f'the message has a link ({shown}), and the transport "{self.transport}" refuses links in SMS'
        return f'the message has a link ({shown}); the transport "{self.transport}" warns that links may be filtered'


def possible_transports(
    rules: Sequence[LinkRule], *, gsm: str | None = None, carrier: str | None = None
) -> list[LinkRule]:
    """The transports `choose_transport` may pick for a message (it spreads over a role's members)."""
    if gsm is not None:
        return [r for r in rules if r.transport.role == "gsm" and r.transport.gateway_id == gsm]
    if carrier is not None:
        return [r for r in rules if r.transport.name == carrier]
    for role in ROLES:
        same = [r for r in rules if r.transport.role == role]
        if same:
            return same
    return []


def judge_links(text: str, rules: Sequence[LinkRule], own_prefix: str = "") -> LinkVerdict:
    """What the strictest of ``rules`` does with the links in ``text`` (``allow`` when there are none)."""
    strictest = max(rules, key=lambda r: POLICIES.index(r.policy) if r.policy in POLICIES else 0, default=None)
    if strictest is None or strictest.policy not in ("warn", "refuse"):
        return LinkVerdict("allow")
    links = find_links(text, own_prefix)
    if not links:
        return LinkVerdict("allow")
    return LinkVerdict(strictest.policy, tuple(links), strictest.transport.name)


def link_refusal(text: str, transport: str, options: dict[str, object], own_prefix: str = "") -> str | None:
    """At dispatch: why the chosen ``transport`` (its stored ``options``) refuses ``text``, or None."""
    if options.get("links") != "refuse":
        return None
    links = find_links(text, own_prefix)
    return LinkVerdict("refuse", tuple(links), transport).reason() if links else None
