"""The tables. Alembic migrations under ``migrations/`` create exactly these (a test checks it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

# A result row: columns by attribute (``row.status``). SQLAlchemy's own Row type is variadic and adds
# nothing here but noise.
Record = Any


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (stored naive UTC; SQLite has no time zones)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if type(value) is datetime and value.tzinfo is None:  # what both drivers give: the usual case, first
            return value.replace(tzinfo=UTC)
        if isinstance(value, str):  # pragma: no cover - raw SQLite reads
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

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


# Inbound de-duplication looks a carrier id up here; not unique: carriers reuse ids (services/receive.py
# de-duplicates within a time window only).
sa.Index("ix_messages_inbound_carrier_id", messages.c.transport, messages.c.carrier_id)
# A conversation's messages and its latest one (the inbox's "last message"), without a sort.
sa.Index("ix_messages_conversation_latest", messages.c.conversation_id, messages.c.id)

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

# Stored files: attachments uploaded for MMS, and inbound ones fetched from providers. The bytes live on disk
# (``storage = "disk"``, under the media directory, named by id) or, where every host must see them
# (PostgreSQL deployments), in ``media_chunks`` (``storage = "db"``).
media = sa.Table(
    "media",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column("owner_id", sa.ForeignKey("users.id", ondelete="SET NULL"), index=True),  # who uploaded it
    sa.Column("content_type", sa.String(100), nullable=False),  # sniffed from the bytes
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("storage", sa.String(8), nullable=False),  # disk | db
    sa.Column("created_at", UtcDateTime, nullable=False),
)

media_chunks = sa.Table(
    "media_chunks",
    metadata,
    sa.Column("media_id", sa.ForeignKey("media.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

# A message's attachments in order. Inbound ones start as the provider's reference (``source``, fetched through
# ``transport``'s channel): ``state`` pending until fetched (``media_id`` set, ready) or given up (failed); the
# fetch is retried at ``due_at`` under a lease, like a job, and never holds up the message's text.
message_media = sa.Table(
    "message_media",
    metadata,
    sa.Column("message_id", sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("media_id", sa.ForeignKey("media.id", ondelete="SET NULL"), index=True),
    sa.Column("source", sa.Text),
    sa.Column("transport", sa.String(100)),
    sa.Column("state", sa.String(8), nullable=False),  # ready | pending | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("due_at", UtcDateTime),
    sa.Column("lease_until", UtcDateTime),
    sa.Column("error", sa.Text),
    sa.Index("ix_message_media_pending", "state", "due_at"),
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

# SMPP server for applications (issue 13 §4). An account binds as ``system_id`` and sends as ``user_id``; its
# password is an argon2 hash like a user's. ``throughput``: submit_sm per second before ESME_RTHROTTLED.
smpp_accounts = sa.Table(
    "smpp_accounts",
    metadata,
    sa.Column("system_id", sa.String(15), primary_key=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("throughput", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Every message_id given to an ESME in a submit_sm_resp: a whole message's (``id`` = the message's id) or one
# part's of a long message. A part waits here (``text``, ``concat_key``) until its message is whole and sent;
# ``receipt_pending`` while registered_delivery asked for a receipt not yet answered by a deliver_sm_resp.
smpp_submits = sa.Table(
    "smpp_submits",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column("system_id", sa.String(15), nullable=False),
    sa.Column("message_id", sa.ForeignKey("messages.id", ondelete="CASCADE"), index=True),
    sa.Column("concat_key", sa.String(200)),  # source|destination|reference|total of a part; null when whole
    sa.Column("part", sa.Integer, nullable=False, server_default="1"),
    sa.Column("text", sa.Text),  # a waiting part's user data, octets as Latin-1 characters (cleared once sent)
    sa.Column("sender", sa.String(32)),  # a waiting part's checked source (E.164 or alphanumeric ID)
    sa.Column("recipient", sa.String(32)),  # a waiting part's destination (E.164)
    sa.Column("receipt_pending", sa.Boolean, nullable=False),
    sa.Column("lease_until", UtcDateTime),  # a receipt being delivered by some bind
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_smpp_submits_concat", "system_id", "concat_key"),
    sa.Index("ix_smpp_submits_receipts", "receipt_pending", "system_id"),
)

# Inbound messages to an account's user's numbers, waiting to be delivered to a bound receiver as deliver_sm.
# Written in the inbound router's transaction; a row goes once a receiver answered deliver_sm_resp OK.
smpp_inbound = sa.Table(
    "smpp_inbound",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("system_id", sa.ForeignKey("smpp_accounts.system_id", ondelete="CASCADE"), nullable=False),
    sa.Column("message_id", sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    sa.Column("lease_until", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_smpp_inbound_account", "system_id", "id"),
)
