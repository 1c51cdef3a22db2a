"""What Parley knows of the networks it sends through: the transports (SMPP binds, HTTP gateways, GSM gateways) and
each worker's live view of them, the WhatsApp templates approved at Meta, the destination countries' sender ID
rules, and the price of a message to each destination prefix."""

from __future__ import annotations

import sqlalchemy as sa

from parley.store.tables.base import UtcDateTime, metadata

transports = sa.Table(
    "transports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),  # curl | gsm | carrier
    sa.Column("kind", sa.String(16), nullable=False),  # curl | smpp
    sa.Column("gateway_id", sa.String(64), unique=True),  # the `gsm=` id of a GSM gateway
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Each worker process's view of its transports (bound, connecting, last error), written every few seconds,
# so any process — an API-only `serve --no-workers` on another host included — can show the live state.
transport_states = sa.Table(
    "transport_states",
    metadata,
    sa.Column("transport", sa.String(100), primary_key=True),
    sa.Column("worker", sa.String(200), primary_key=True),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Destination countries that take only registered alphanumeric sender IDs (issue 14 §3, core/sender_rules.py).
sender_id_rules = sa.Table(
    "sender_id_rules",
    metadata,
    sa.Column("country", sa.String(2), primary_key=True),  # ISO 3166 alpha-2, upper case
    sa.Column("registered", sa.JSON, nullable=False),  # the registered sender IDs, a list of strings
    sa.Column("otherwise", sa.String(16), nullable=False),  # office_number | refuse
)

prices = sa.Table(
    "prices",
    metadata,
    sa.Column("prefix", sa.String(20), primary_key=True),
    sa.Column("price", sa.String(32), nullable=False),  # a decimal, kept exact as text
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("mms_price", sa.String(32)),  # per MMS, exact as text; NULL: MMS to the prefix are not charged
)

# WhatsApp message templates of each WhatsApp Business Account, as last synced from Meta
# (`GET /{waba_id}/message_templates`): only an approved one may be sent.
whatsapp_templates = sa.Table(
    "whatsapp_templates",
    metadata,
    sa.Column("waba_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("language", sa.String(16), primary_key=True),
    sa.Column("meta_id", sa.String(64)),
    sa.Column("category", sa.String(32), nullable=False),  # marketing | utility | authentication
    sa.Column("status", sa.String(16), nullable=False),  # approved | pending | rejected | paused | disabled ...
    sa.Column("components", sa.JSON, nullable=False),  # as Meta lists them, each with "variables": its count
    sa.Column("reason", sa.Text),  # why Meta rejected or paused it
    sa.Column("synced_at", UtcDateTime, nullable=False),
)
