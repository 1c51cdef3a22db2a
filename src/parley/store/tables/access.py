"""Who may act, and how they prove it: the web console's sessions, the wrong-password counters that throttle
sign-ins, and API keys."""

from __future__ import annotations

import sqlalchemy as sa

from parley.store.tables.base import UtcDateTime, metadata

# The web console's sign-ins: the token's SHA-256 only (a database leak gives no usable cookie).
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("csrf", sa.String(64), nullable=False),
    # A stamp of the password the session was opened with: a changed password ends the session.
    sa.Column("password_stamp", sa.String(16), nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)

# Wrong passwords per throttling key (services/throttle.py: "pair:<hash>", "address:<hash>", ...), shared by
# every process; a counter is forgotten 15 minutes after its last failure.
sign_in_failures = sa.Table(
    "sign_in_failures",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_at", UtcDateTime, nullable=False, index=True),
)

# API keys (issue 13 §2): a key acts as its user, narrowed to its scopes. The secret itself is never stored:
# `secret_hash` (SHA-256 of a 256-bit random secret) finds and verifies it in one indexed lookup, and
# `secret_sealed` (AES-GCM under the installation's key, services/secret_box.py) keeps it recoverable for
# signing webhooks and Twilio-style callbacks.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(34), primary_key=True),  # the key SID: SK + 32 hex digits
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),  # a list of core.api_keys.SCOPES
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("secret_sealed", sa.Text),
    sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime),
    sa.Column("last_used_at", UtcDateTime),
)
