"""The bench's tables judge each sustained figure against issue 15's targets, whatever rate it was run at."""

from __future__ import annotations

import pytest
from bench.figures import Figure
from bench.report import rows


@pytest.mark.parametrize(
    ("key", "value", "unit", "verdict"),
    [
        ("s1000", 995.0, "msg/s", "keeps up (≥980): met"),
        ("s1000", 523.0, "msg/s", "keeps up (≥980): not met"),
        ("s250", 250.0, "msg/s", "keeps up (≥245): met"),
        ("s1000_accept_p99", 41.0, "ms", "<50 ms: met"),
        ("s500_accept_p99", 400.0, "ms", "<50 ms: not met"),
        ("s1000_receipt_p99", 1_821.0, "ms", "<1,000 ms: not met"),
        ("s1000_inbound_p99", 30.0, "ms", "<50 ms: met"),
        ("s1000_cpu", 4_000.0, "µs", ""),
        ("sqlite_thing", 1.0, "ms", ""),
        ("accept1", 1_600.0, "msg/s", "≥1,500: met"),
    ],
)
def test_sustained_figures_get_their_targets(key: str, value: float, unit: str, verdict: str) -> None:
    [row] = rows([Figure(key, key, value, unit, against="")], postgres=True)
    assert row[-1] == verdict


def test_targets_are_judged_on_postgresql_only() -> None:
    [row] = rows([Figure("s1000", "s1000", 995.0, "msg/s", against="")], postgres=False)
    assert row[-1] == "keeps up (≥980): (PostgreSQL only)"
