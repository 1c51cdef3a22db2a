"""Messages and what moves them: each message with its status history, its queue job, the parts handed to carriers
and the delivery receipts matched to them, the parts of long inbound messages waiting to be joined, and the
segments each user sent per month (quotas)."""

from __future__ import annotations

import sqlalchemy as sa

from parley.store.tables.base import UtcDateTime, metadata

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column("direction", sa.String(3), nullable=False),  # out | in
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="SET NULL"), index=True),
    sa.Column("sender", sa.String(32), nullable=False),
    sa.Column("recipient", sa.String(32), nullable=False, index=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("segments", sa.Integer, nullable=False),
    sa.Column("encoding", sa.String(8), nullable=False),
    sa.Column("gsm", sa.String(64)),  # the gateway asked for with `gsm=`
    sa.Column("transport", sa.String(100)),
    sa.Column("error", sa.Text),
    sa.Column("error_code", sa.String(32)),  # the provider's own code (Twilio 21211, an SMPP err:, an HTTP status)
    sa.Column("channel", sa.String(8), nullable=False, server_default="sms"),  # sms | mms | whatsapp | web
    sa.Column("charge", sa.String(32)),
    sa.Column("currency", sa.String(3)),
    sa.Column("source", sa.String(16), nullable=False),  # wildix | api | cli | conversation | bot | smpp ...
    sa.Column("conversation_id", sa.String(24), sa.ForeignKey("conversations.id", ondelete="SET NULL")),
    sa.Column("bot", sa.String(100)),  # the bot that wrote an outbound message
    sa.Column("carrier_id", sa.String(100)),  # an inbound message's id at the carrier (duplicates stored once)
    sa.Column("campaign_id", sa.String(24), index=True),  # set for campaign messages (never sent twice)
    # WhatsApp: the approved template this message sends, as JSON {"name", "language", "variables": [...],
    # "header_media": <media id> | null} (`body` holds its rendered text, for the timeline and search).
    sa.Column("template", sa.JSON),
    # "WhatsApp first, then SMS" (issue 12 §7): "sms" to fall back to; ``fallback_at`` when to, if not delivered.
    sa.Column("fallback", sa.String(8)),
    sa.Column("fallback_at", UtcDateTime, index=True),
    # The ways the message tried, in order: [{"channel", "at", "outcome", "code"?, "detail"?}] (null: one try).
    sa.Column("route", sa.JSON),
    # Where this message's status changes are posted (issue 13): a native send's `status_callback` (format
    # "parley", signed with the key's secret) or a Twilio-compatible send's `StatusCallback` (format "twilio").
    sa.Column("status_callback", sa.Text),
    sa.Column("callback_format", sa.String(8)),
    sa.Column("api_key_id", sa.String(34)),  # the API key that made the send (it signs the callbacks)
    # Counted as delivered when handed over to a transport without receipts (`assume_delivered`, issue 14 §5).
    sa.Column("delivery_assumed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("send_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Inbound de-duplication looks a carrier id up here; not unique: carriers reuse ids (services/receive.py
# de-duplicates within a time window only).
sa.Index("ix_messages_inbound_carrier_id", messages.c.transport, messages.c.carrier_id)
# A conversation's messages and its latest one (the inbox's "last message"), without a sort.
sa.Index("ix_messages_conversation_latest", messages.c.conversation_id, messages.c.id)

message_events = sa.Table(
    "message_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("detail", sa.Text),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("message_id", sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False, server_default="send"),  # send (outbound) | route (inbound)
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("first_tried_at", UtcDateTime),
    sa.Column("lease_until", UtcDateTime),
    sa.Column("worker", sa.String(64)),
    # Tries that ended with no outcome recorded (the lease ran out: the worker died, or its outcome write
    # failed) or with an unexpected error: a job that keeps doing that is parked (failed), not looped for ever.
    sa.Column("faults", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_jobs_kind_due", "kind", "due_at", "message_id"),  # a route claim's whole order (migration 0019)
)

# One row per part of a sent message. The carrier's id is not a key: SMSCs hand the same ids out again (their
# counter restarts with them), so receipts are matched by (transport, carrier id) within a time window, newest
# part first (store/receipts.py).
message_parts = sa.Table(
    "message_parts",
    metadata,
    sa.Column("message_id", sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True),
    sa.Column("transport", sa.String(100), nullable=False),
    sa.Column("carrier_id", sa.String(100), nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("state", sa.String(16)),
    sa.Column("stat", sa.String(16)),
    sa.Column("err", sa.String(16)),
    sa.Index("ix_message_parts_carrier", "transport", "carrier_id", "recorded_at"),
)

receipts = sa.Table(
    "receipts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("transport", sa.String(100), nullable=False),
    sa.Column("carrier_id", sa.String(100), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("stat", sa.String(16), nullable=False),
    sa.Column("err", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text),  # what the provider said beyond the code (WhatsApp's error title and details)
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("applied_at", UtcDateTime),
    sa.Index("ix_receipts_unapplied", "applied_at", "received_at"),
    sa.Index("ix_receipts_carrier", "transport", "carrier_id"),
)

usage = sa.Table(
    "usage",
    metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),  # YYYY-MM
    sa.Column("segments", sa.Integer, nullable=False),
)

inbound_parts = sa.Table(
    "inbound_parts",
    metadata,
    sa.Column("transport", sa.String(100), primary_key=True),
    sa.Column("sender", sa.String(32), primary_key=True),
    sa.Column("reference", sa.Integer, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("recipient", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
)
