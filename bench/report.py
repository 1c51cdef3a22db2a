"""Tables: each figure with its ratio to the same-run baseline, and the reference figures from the issues."""

from __future__ import annotations

from dataclasses import dataclass

from bench.figures import Figure


@dataclass(frozen=True)
class Reference:
    peer: str  # the best-known open-source Python gateway
    target: float | None  # Parley's target on PostgreSQL, in the figure's unit
    at_most: bool = False  # the target is a ceiling (latency, memory), not a floor (rates)
    shown: str | None = None  # how the target is written, when not in the figure's unit


REFERENCES = {
    "accept1": Reference("~1,500 req/s", 1_500),
    "accept100": Reference("—", 10_000),
    "e2e": Reference("~580 msg/s", 1_000),
    "e2e_delay": Reference("~43 msg/s per bind", 400),
    "inbound": Reference("", 500),
    "inbound_p99_routed": Reference("", 50, at_most=True),
    "inbound_p99_seen": Reference("", 50, at_most=True),
    "rss_campaign_serve": Reference("", 250e6 / 2**20, at_most=True, shown="<250 MB (238 MiB)"),
}


def reference(key: str) -> Reference | None:
    """The reference of a figure: a fixed one, or issue 15's targets for a sustained run at some rate (keys
    ``s<rate>``, ``s<rate>_accept_p99``, ...): keeps up with the rate offered, p99 accept < 50 ms, p99 receipt lag
    to stored < 1 s, inbound p99 to routed < 50 ms while the outbound load runs."""
    if key in REFERENCES:
        return REFERENCES[key]
    rate, _, metric = key[1:].partition("_")
    if not key.startswith("s") or not rate.replace(".", "", 1).isdigit():
        return None
    offered = float(rate)
    sustained = {
        "": Reference("", offered * 0.98, shown=f"keeps up (≥{offered * 0.98:,.0f})"),
        "accept_p99": Reference("", 50, at_most=True),
        "receipt_p99": Reference("", 1_000, at_most=True),
        "inbound_p99": Reference("", 50, at_most=True),
    }
    return sustained.get(metric)


HEADERS = ("metric", "value", "× baseline", "peer", "target (PostgreSQL)")


def _number(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.1f} {unit}"


def _ratio(value: float) -> str:
    return f"{value:.2f}×" if value >= 0.1 else f"{value:.2g}×"


def _against(f: Figure, figures: list[Figure]) -> Figure | None:
    if f.against == "":  # a baseline itself
        return None
    key = f.against or ("rss_baseline" if f.unit == "MiB" else "baseline")
    return next((g for g in figures if g.key == key and g is not f), None)


def _verdict(f: Figure, ref: Reference, *, postgres: bool) -> str:
    if not ref.target:
        return ""
    if ref.at_most:
        bound, met = ref.shown or f"<{ref.target:,.0f} {f.unit}", f.value < ref.target
    else:
        bound, met = ref.shown or f"≥{ref.target:,.0f}", f.value >= ref.target
    if not f.ok:
        return f"{bound}: not measured (see the note)"
    return f"{bound}: " + (("met" if met else "not met") if postgres else "(PostgreSQL only)")


def rows(figures: list[Figure], *, postgres: bool) -> list[tuple[str, ...]]:
    bases = {id(g) for f in figures if (g := _against(f, figures)) is not None}
    out: list[tuple[str, ...]] = []
    for f in figures:
        against = _against(f, figures)
        if against is not None and against.value:
            ratio = _ratio(f.value / against.value)
        else:
            ratio = "1.00×" if id(f) in bases else "—"
        ref = reference(f.key)
        target = _verdict(f, ref, postgres=postgres) if ref else ""
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
    """One line per compared figure, as "Parley accept, 1 number: 2,100 msg/s = 0.45× baseline (…)"."""
    lines = []
    for f in figures:
        against = _against(f, figures)
        if f.unit == "MiB" or f.key == "baseline" or against is None or not against.value:
            continue
        lines.append(f"{f.label}: {_number(f.value, f.unit)} = {_ratio(f.value / against.value)} {against.label}")
    return "\n".join(lines)
