"""The installation's people and numbers: its settings, the users (some owned by the LDAP directory, whose syncs
are recorded here with the lease that schedules them), the services users belong to, the company numbers, and the
bots that answer on them. Most of it is what ``parley apply`` provisions."""

from __future__ import annotations

import sqlalchemy as sa

from parley.store.tables.base import UtcDateTime, metadata

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("extension", sa.String(32), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("license", sa.String(16), nullable=False),
    sa.Column("office_number", sa.String(20)),
    sa.Column("email", sa.String(320)),
    sa.Column("role", sa.String(16), nullable=False, server_default="user"),
    sa.Column("sms_package", sa.Integer, nullable=False, server_default="200"),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("mobile", sa.String(20)),
    # Set for users the LDAP directory sync owns (issue 14 §2): the entry's DN. NULL: Parley's own user.
    sa.Column("directory_dn", sa.Text),
    # A user gone from the directory is disabled, never deleted (their messages and conversations stay).
    sa.Column("disabled_at", UtcDateTime),
)

services = sa.Table(
    "services",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("sms_number", sa.String(20)),
    sa.Column("config", sa.JSON),  # the service's own routing, used after the number's
)

service_members = sa.Table(
    "service_members",
    metadata,
    sa.Column("service_id", sa.ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),  # static | dynamic
)

numbers = sa.Table(
    "numbers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("number", sa.String(20), nullable=False, unique=True),
    sa.Column("sms", sa.Boolean, nullable=False, default=True),
    sa.Column("mms", sa.Boolean, nullable=False, default=False),
    sa.Column("whatsapp", sa.Boolean, nullable=False, default=False),
    sa.Column("carrier", sa.String(100)),  # the transport that serves this number (`[[numbers]] carrier =`)
    sa.Column("toll_free", sa.JSON),  # a toll-free number's verification state (core/toll_free.py); null: not one
    sa.Column("linked_service_id", sa.ForeignKey("services.id", ondelete="SET NULL")),
    # Routing, working hours, out-of-hours routing and actions (seed 002); see core/number_config.py.
    sa.Column("config", sa.JSON),
)

bots = sa.Table(
    "bots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("message", sa.Text, nullable=False),  # what the bot answers out of working hours
    # The template it sends instead on WhatsApp once the customer's 24-hour window is closed (else it records
    # that it could not answer): {"name", "language", "variables": [...]}.
    sa.Column("whatsapp_template", sa.JSON),
)

# One row per directory sync (issue 14 §2): what it did, entry by entry, or why it changed nothing.
directory_syncs = sa.Table(
    "directory_syncs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("trigger", sa.String(16), nullable=False),  # schedule | console | cli
    sa.Column("outcome", sa.String(16), nullable=False),  # running | done | failed | refused
    sa.Column("reason", sa.Text),
    sa.Column("counts", sa.JSON),
    sa.Column("entries", sa.JSON),  # [{"dn", "extension", "outcome", "reason"}], at most a few thousand
)

# Named leases: one holder at a time across every process and host (the directory sync's schedule).
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)
