"""Conversations with customers: each thread and its participants (users and bots), its event history, action
timers and calls; the blocks and opt-outs that apply per company number and customer; and the reply links that
let a customer answer from a web page."""

from __future__ import annotations

import sqlalchemy as sa

from parley.store.tables.base import UtcDateTime, metadata

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    # One conversation per (company number, customer number, service): "company|customer|service id or -".
    sa.Column("thread_key", sa.String(120), nullable=False, unique=True),
    sa.Column("company_number", sa.String(20), nullable=False, index=True),
    sa.Column("external_number", sa.String(32), nullable=False, index=True),
    sa.Column("service_id", sa.ForeignKey("services.id", ondelete="SET NULL")),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("assignee_id", sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("unrouted", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("last_message_at", UtcDateTime),
    sa.Column("last_inbound_at", UtcDateTime),
    sa.Column("last_reply_at", UtcDateTime),
    # WhatsApp: when the customer's last WhatsApp message was written (Meta's timestamp); the 24-hour window
    # counts from it. ``last_channel``: the channel the customer last wrote on (replies go there by default).
    sa.Column("whatsapp_last_inbound_at", UtcDateTime),
    sa.Column("last_channel", sa.String(8)),
    sa.Index("ix_conversations_updated", "updated_at", "id"),  # the inbox lists newest first, keyset pages
)

participants = sa.Table(
    "participants",
    metadata,
    sa.Column("conversation_id", sa.ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("member", sa.String(110), primary_key=True),  # "u:<user id>" or "b:<bot name>"
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), index=True),
    sa.Column("bot", sa.String(100)),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("removed_by_agent", sa.Boolean, nullable=False, default=False),  # a bot an agent removed stays out
    sa.Column("joined_at", UtcDateTime, nullable=False),
    sa.Column("left_at", UtcDateTime),
    sa.Column("last_read_at", UtcDateTime),
)

conversation_events = sa.Table(
    "conversation_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),  # joined, left, assigned, renamed, blocked, opted_out, ...
    sa.Column("actor", sa.String(110)),  # "u:<id>", "b:<name>", "customer" or "system"
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
)

blocks = sa.Table(
    "blocks",
    metadata,
    sa.Column("company_number", sa.String(20), primary_key=True),
    sa.Column("external_number", sa.String(32), primary_key=True),
    sa.Column("created_by", sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

optouts = sa.Table(
    "optouts",
    metadata,
    sa.Column("company_number", sa.String(20), primary_key=True),
    sa.Column("external_number", sa.String(32), primary_key=True),
    sa.Column("opted_out", sa.Boolean, nullable=False),
    sa.Column("keyword", sa.String(32), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
)

timers = sa.Table(
    "timers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("fire_at", UtcDateTime, nullable=False),
    sa.Column("lease_until", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("done_at", UtcDateTime),
    sa.Column("outcome", sa.String(16)),  # fired | cancelled
    sa.Index("ix_timers_due", "done_at", "fire_at"),
)

calls = sa.Table(
    "calls",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column("conversation_id", sa.ForeignKey("conversations.id", ondelete="SET NULL"), index=True),
    sa.Column("customer_number", sa.String(32), nullable=False),
    sa.Column("company_number", sa.String(20)),
    sa.Column("service_id", sa.ForeignKey("services.id", ondelete="SET NULL")),
    sa.Column("agent_id", sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("direction", sa.String(3), nullable=False),  # in | out
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("ended_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# Reply links (issue 14 §1): a short link in an SMS that opens a web chat with one customer of one company number.
# Only a hash of the token is kept: the database alone does not give working links. ``present_until``: the chat page
# holds its live stream open and pushes this forward while it does; replies go on the web while it is ahead of now.
reply_links = sa.Table(
    "reply_links",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("company_number", sa.String(32), nullable=False),
    sa.Column("customer", sa.String(32), nullable=False),
    sa.Column("message_id", sa.String(24)),  # the message that carried the link (shown on the page)
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("present_until", UtcDateTime),
    sa.Index("ix_reply_links_thread", "company_number", "customer"),
)

# Fixed-window counters of posts through reply links, per link and per client address (keys are hashes).
reply_link_posts = sa.Table(
    "reply_link_posts",
    metadata,
    sa.Column("key", sa.String(80), primary_key=True),
    sa.Column("window_start", UtcDateTime, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
)
