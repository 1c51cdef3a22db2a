"""Links in SMS at send time (issue 14 §4): a message is judged against the transports that could carry it.

The dispatcher picks the transport later (`parley.core.routing.choose_transport`); which ones it may pick is
known now (the number's carrier, the named GSM gateway, else the first role configured), and the strictest
of their `links` settings decides. The dispatcher checks the chosen transport again (settings may change
while a message waits): see docs/architecture.md, "Links in SMS".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from parley.core.links import LinkRule, LinkVerdict, judge_links, possible_transports
from parley.core.routing import TransportInfo
from parley.core.transport_specs import HTTP_CARRIERS


def link_rules(transports: Sequence[Any]) -> tuple[LinkRule, ...]:
    """The SMS transports' `links` settings, from `transports` rows."""
    return tuple(
        LinkRule(
            TransportInfo(t.name, t.role, t.gateway_id, carries_mms=t.kind in HTTP_CARRIERS),
            str((t.config or {}).get("links", "allow")),
        )
        for t in transports
        if t.kind != "whatsapp"
    )


def check_links(
    text: str, *, sender: str | None, gsm: str | None, rules: Sequence[LinkRule], carriers: dict[str, str],
    own_prefix: str,
) -> LinkVerdict:  # fmt: skip
    """What the transports that could carry ``text`` from ``sender`` do with its links."""
    carrier = carriers.get(sender) if sender else None
    return judge_links(text, possible_transports(rules, gsm=gsm, carrier=carrier), own_prefix)
