"""Tables: each figure with its ratio to the same-run baseline, and the reference figures from the issue."""

from __future__ import annotations

from dataclasses import dataclass

from bench.scenarios import Figure


@dataclass(frozen=True)
class Reference:
    peer: str  # the best-known open-source Python gateway
    target: float | None  # Parley's target on PostgreSQL, in the figure's unit


REFERENCES = {
    "accept1": Reference("~1,500 req/s", 1_500),
    "accept100": Reference("—", 10_000),
    "e2e": Reference("~580 msg/s", 1_000),
    "e2e_delay": Reference("~43 msg/s per bind", 400),
}

HEADERS = ("metric", "value", "× baseline", "peer", "target (PostgreSQL)")


def _number(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.1f} {unit}"


def rows(figures: list[Figure], *, postgres: bool) -> list[tuple[str, ...]]:
    base = next((f for f in figures if f.key == "baseline"), None)
    base_rss = next((f for f in figures if f.key == "rss_baseline"), None)
    out: list[tuple[str, ...]] = []
    for f in figures:
        against = base_rss if f.unit == "MiB" else base
        ratio = f"{f.value / against.value:.2f}×" if against and against.value else "—"
        ref = REFERENCES.get(f.key)
        target = ""
        if ref and ref.target:
            verdict = ("met" if f.value >= ref.target else "not met") if postgres else "(PostgreSQL only)"
            target = f"≥{ref.target:,.0f}: {verdict}"
        value = _number(f.value, f.unit) + ("" if f.ok else " (!)")
        out.append((f.label, value, ratio, ref.peer if ref else "", target))
    return out


def text_table(title: str, figures: list[Figure], *, postgres: bool) -> str:
    table = [HEADERS, *rows(figures, postgres=postgres)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADERS))]
    lines = [title, "-" * len(title)]
    for n, row in enumerate(table):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += ["", *notes(figures)]
    return "\n".join(lines)


def markdown_table(title: str, figures: list[Figure], *, postgres: bool) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(figures, postgres=postgres)]
    return "\n".join([*lines, "", *notes(figures)])


def notes(figures: list[Figure]) -> list[str]:
    out = [f"- {f.label}: {'; '.join(f.notes)}" for f in figures if f.notes]
    if any(not f.ok for f in figures):
        out.append("- (!) = not trustworthy as measured: see its note (errors, lost rows or a timeout)")
    return out


def summary(figures: list[Figure]) -> str:
    """One line per figure, as "Parley accept, 1 number: 2,100 msg/s = 0.45× baseline"."""
    base = next((f for f in figures if f.key == "baseline"), None)
    lines = []
    for f in figures:
        if f.unit == "MiB" or f.key == "baseline" or base is None or not base.value:
            continue
        lines.append(f"{f.label}: {_number(f.value, f.unit)} = {f.value / base.value:.2f}× baseline")
    return "\n".join(lines)
