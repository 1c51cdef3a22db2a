"""Media: stored files (on disk or, where every host must see them, in the database in chunks) and each message's
attachments, including inbound ones still to be fetched from the provider."""

from __future__ import annotations

import sqlalchemy as sa

from parley.store.tables.base import UtcDateTime, metadata

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
