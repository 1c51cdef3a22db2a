"""Prometheus metrics, served at /metrics."""

from __future__ import annotations

from prometheus_client import Counter

ACCEPTED = Counter("parley_messages_accepted", "Outbound messages accepted (durable)", ["source"])
OUTCOMES = Counter("parley_dispatch_outcomes", "Hand-overs to a transport, by outcome", ["transport", "outcome"])
RECEIPTS = Counter("parley_receipts", "Delivery receipts received", ["transport", "state"])
INBOUND = Counter("parley_inbound_messages", "Inbound (MO) messages stored", ["transport"])
