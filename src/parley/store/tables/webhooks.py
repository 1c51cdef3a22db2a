"""Outbound webhooks: the endpoints that receive events, every delivery of an event (durable, claimed and retried
like a job), and the attempts made."""

from __future__ import annotations

import sqlalchemy as sa

from parley.store.tables.base import UtcDateTime, metadata

# Outbound webhooks (issue 13 §1): endpoints that receive events, and every delivery, durable and retried.
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column("owner_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("events", sa.JSON, nullable=False),  # the event types it receives
    sa.Column("description", sa.String(200), nullable=False, server_default=""),
    sa.Column("secret_sealed", sa.Text, nullable=False),  # services/secret_box.py: signs each delivery
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("disabled_reason", sa.Text),  # why Parley disabled it (failing for a day); the admin is told
    sa.Column("failing_since", UtcDateTime),  # the first failure of the current run of failures
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# One event to one receiver: an endpoint's, or a message's status callback (``url``, signed with ``api_key_id``'s
# secret). ``body`` is fixed when the event happens (in that transaction), so every retry sends the same bytes and
# the same event id; the signature is made per attempt. Claimed like jobs (``due_at``, ``lease_until``).
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(32), nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("endpoint_id", sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE")),
    sa.Column("url", sa.Text),  # a status callback's URL (an endpoint's deliveries use the endpoint's)
    sa.Column("api_key_id", sa.String(34)),
    sa.Column("format", sa.String(8), nullable=False),  # parley (JSON envelope) | twilio (form POST)
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # pending | delivered | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("lease_until", UtcDateTime),
    sa.Column("last_status", sa.Integer),  # the receiver's HTTP status of the last attempt
    sa.Column("last_error", sa.Text),
    sa.Column("last_attempt_at", UtcDateTime),
    sa.Column("delivered_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # What the event is about (a message's, conversation's or campaign's id): one receiver gets one subject's events
    # in order, different subjects concurrently. Null in rows written before 0016 (those go in order per receiver).
    sa.Column("subject", sa.String(40)),
    # Its first attempt when that one succeeded (issue 15): kept here instead of as a ``webhook_attempts`` row, which
    # under load would be a quarter of all webhook rows written. Null otherwise, and in rows written before 0017.
    # Later attempts (a resend, or a retry by another worker whose lease had run out) are ``webhook_attempts`` rows.
    sa.Column("first_at", UtcDateTime),
    sa.Column("first_status", sa.Integer),
    sa.Column("first_answer", sa.Text),
    sa.Column("first_duration_ms", sa.Integer),
    sa.Index("ix_webhook_deliveries_due", "state", "due_at", "id"),  # the claim's whole order (migration 0018)
    sa.Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
    # Deliveries with a lease (claimed, in flight: a few), by its end: `store.webhooks.next_due` (migration 0019).
    sa.Index(
        "ix_webhook_deliveries_leased",
        "lease_until",
        postgresql_where=sa.text("lease_until IS NOT NULL"),
        sqlite_where=sa.text("lease_until IS NOT NULL"),
    ),
)

# Each attempt of a delivery and what the receiver answered (shown per endpoint in the console and the API), but a
# first attempt that succeeded: that one is kept on its delivery (``first_at`` …; `store.webhooks.attempts_of`).
webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("status", sa.Integer),  # null: no answer (refused, timed out)
    sa.Column("error", sa.Text),
    sa.Column("answer", sa.Text),  # the start of the receiver's answer body
    sa.Column("duration_ms", sa.Integer),
)
