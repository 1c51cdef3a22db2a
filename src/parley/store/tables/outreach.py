"""Campaigns: the contact lists they send to, each campaign with its recipients (one row each, so no one gets a
campaign twice) and the problems found in its upload, and the blocklist of numbers campaigns skip."""

from __future__ import annotations

import sqlalchemy as sa

from parley.store.tables.base import UtcDateTime, metadata

blocklist = sa.Table(
    "blocklist",
    metadata,
    sa.Column("number", sa.String(32), primary_key=True),  # E.164
    sa.Column("reason", sa.String(64), nullable=False),  # "manual", or "opt-out: STOP" from the customer
    sa.Column("added_by", sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

lists = sa.Table(
    "lists",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("columns", sa.JSON, nullable=False),  # placeholder keys besides the number, e.g. ["first_name"]
    sa.Column("created_by", sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

list_entries = sa.Table(
    "list_entries",
    metadata,
    sa.Column("list_id", sa.ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("number", sa.String(32), primary_key=True),  # E.164; a number is in a list once
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    # draft | scheduled | running | stopped | completed | failed
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("owner_id", sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("rating_user_id", sa.ForeignKey("users.id", ondelete="SET NULL")),  # the user charged
    sa.Column("sender_type", sa.String(16), nullable=False),  # number | alphanumeric
    sa.Column("sender", sa.String(32), nullable=False),
    sa.Column("template", sa.Text, nullable=False),
    sa.Column("channel", sa.String(8), nullable=False, server_default="sms"),  # sms | whatsapp
    # A WhatsApp campaign's approved template: {"name", "language", "variables": ["{column}" or text, ...]}.
    sa.Column("whatsapp_template", sa.JSON),
    sa.Column("list_id", sa.ForeignKey("lists.id", ondelete="SET NULL")),
    sa.Column("start_at", UtcDateTime),
    sa.Column("hours", sa.JSON),  # sending hours in each recipient's local time: {"from": "09:00", "to": "20:00"}
    sa.Column("total", sa.Integer, nullable=False, default=0),
    sa.Column("invalid", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime),
    sa.Column("completed_at", UtcDateTime),
)

campaign_recipients = sa.Table(
    "campaign_recipients",
    metadata,
    sa.Column("campaign_id", sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    # The primary key is what makes "no recipient ever gets the same campaign twice" structural.
    sa.Column("number", sa.String(32), primary_key=True),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # staged (upload in progress) | pending | queued | skipped
    sa.Column("message_id", sa.String(24), sa.ForeignKey("messages.id", ondelete="SET NULL")),
    sa.Column("reason", sa.String(200)),
    sa.Column("line", sa.Integer),
    sa.Column("not_before", UtcDateTime),  # outside the recipient's sending hours: wait until then
    # The runner takes "pending, by number" a batch at a time: this index serves it without a sort.
    sa.Index("ix_campaign_recipients_state", "campaign_id", "state", "number"),
)

campaign_problems = sa.Table(
    "campaign_problems",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("campaign_id", sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("reason", sa.String(300), nullable=False),
)
