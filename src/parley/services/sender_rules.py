"""Sender-ID rules by country (issue 14 §3): the shipped names list, the rules as sends see them, and the
console's edits of the rule table. The rules themselves are pure (`parley.core.sender_rules`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from importlib.resources import files
from typing import Any

from parley.core.sender_rules import CountryRule, SenderRules, read_names, read_rule
from parley.store import sender_rules as store
from parley.store.db import Database

# Shipped lists of given names that carriers filter as phishing, by destination country (data files in the
# package, one name a line); `[sender_id_names]` in provisioning adds to them.
SHIPPED_NAMES = {"IT": "filtered_names_it.txt"}


@cache
def shipped_names() -> dict[str, frozenset[str]]:
    data = files("parley.data")
    return {country: read_names(data.joinpath(name).read_text("utf-8").splitlines())
            for country, name in SHIPPED_NAMES.items()}  # fmt: skip


def rules_from(rows: Sequence[Any], added_names: Any) -> SenderRules:
    """The rules as stored (``sender_id_rules`` rows) with the shipped names plus the ``sender_id.names`` setting."""
    countries = {row.country: CountryRule(row.country, frozenset(row.registered or ()), row.otherwise) for row in rows}
    names = dict(shipped_names())
    if isinstance(added_names, Mapping):
        for country, extra in added_names.items():
            if isinstance(extra, list):
                names[country] = names.get(country, frozenset()) | {str(n).casefold() for n in extra}
    return SenderRules(countries, names)


class SenderRuleAdmin:
    """The console's table of countries: list, save one (checked as provisioning checks it), delete one."""

    def __init__(self, db: Database, on_change: Callable[[], None] = lambda: None) -> None:
        self._db = db
        self._on_change = on_change

    async def list_rules(self) -> list[CountryRule]:
        async with self._db.read() as conn:
            rows = await store.list_rules(conn)
        return [CountryRule(r.country, frozenset(r.registered or ()), r.otherwise) for r in rows]

    async def save(self, country: str, registered: str, otherwise: str) -> list[str]:
        """Save the rule from the form's fields (``registered``: IDs separated by commas or lines); the
        problems named by field, or [] when saved."""
        problems: list[str] = []
        ids = [r.strip() for r in registered.replace("\n", ",").split(",") if r.strip()]
        rule = read_rule("rule", {"country": country, "registered": ids, "otherwise": otherwise}, problems)
        if rule is None:
            return [p.removeprefix("rule.") for p in problems]
        async with self._db.write() as conn:
            await store.put_rule(conn, rule.country, sorted(rule.registered), rule.otherwise)
        self._on_change()
        return []

    async def delete(self, country: str) -> bool:
        async with self._db.write() as conn:
            deleted = await store.delete_rule(conn, country.strip().upper())
        self._on_change()
        return deleted
