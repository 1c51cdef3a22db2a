"""What a scenario returns: figures, each compared with a baseline figure measured in the same run."""

from __future__ import annotations

from dataclasses import dataclass, field

SCENARIOS = ("baseline", "accept", "e2e", "inbound", "campaign", "takeover", "uploads", "webhooks", "smpp-server")


@dataclass
class Figure:
    key: str  # baseline | accept1 | accept100 | e2e | e2e_delay | inbound* | campaign* | rss_*
    label: str
    value: float
    unit: str
    notes: list[str] = field(default_factory=list)
    ok: bool = True  # False when the figure is not trustworthy (errors, lost rows, timeout)
    # The key of the figure this one is compared with; None: "baseline" (rates) or "rss_baseline" (MiB);
    # "": none, this is a baseline itself.
    against: str | None = None


@dataclass(frozen=True)
class Options:
    warmup: float = 1.0
    duration: float = 5.0
    connections: int = 50
    e2e_instant: int = 20_000
    e2e_delayed: int = 10_000
    delay: float = 0.02
    e2e_timeout: float = 300.0
    scenarios: tuple[str, ...] = SCENARIOS
    inbound_rate: float = 500.0  # deliver_sm a second, offered on a fixed schedule
    inbound_seconds: float = 10.0
    inbound_customers: int = 200
    campaign_rows: int = 1_000_000
    campaign_seconds: float = 20.0  # how long the worker's sending rate is watched
    upload_timeout: float = 1800.0
    takeover_messages: int = 1_800  # claimed by the worker that is killed (a multiple of 100)
    webhook_rate: float = 1000.0  # inbound deliver_sm a second, each announced by a webhook
    webhook_seconds: float = 10.0
    smpp_messages: int = 5_000  # submit_sm from one ESME bind
    smpp_window: int = 32
    # Sustained load (issue 15, bench/sustained.py): outbound rates offered, for how long, MO alongside, receipts.
    sustained_rates: tuple[float, ...] = (250.0, 500.0, 1_000.0)
    sustained_seconds: float = 60.0
    sustained_inbound_rate: float = 100.0
    sustained_webhooks: bool = True  # one webhook endpoint taking message.status and message.received
    receipt_delay: tuple[float, float] = (0.5, 5.0)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
