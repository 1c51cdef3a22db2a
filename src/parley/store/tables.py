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
)

services = sa.Table(
    "services",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("sms_number", sa.String(20)),
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
    sa.Column("linked_service_id", sa.ForeignKey("services.id", ondelete="SET NULL")),
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

prices = sa.Table(
    "prices",
    metadata,
    sa.Column("prefix", sa.String(20), primary_key=True),
    sa.Column("price", sa.String(32), nullable=False),  # a decimal, kept exact as text
    sa.Column("currency", sa.String(3), nullable=False),
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
    sa.Column("charge", sa.String(32)),
    sa.Column("currency", sa.String(3)),
    sa.Column("source", sa.String(16), nullable=False),  # wildix | api | cli | ...
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
    sa.Column("due_at", UtcDateTime, nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("first_tried_at", UtcDateTime),
    sa.Column("lease_until", UtcDateTime),
    sa.Column("worker", sa.String(64)),
)

message_parts = sa.Table(
    "message_parts",
    metadata,
    sa.Column("transport", sa.String(100), primary_key=True),
    sa.Column("carrier_id", sa.String(100), primary_key=True),
    sa.Column("message_id", sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("part", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16)),
    sa.Column("stat", sa.String(16)),
    sa.Column("err", sa.String(16)),
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
