"""WhatsApp conversations: the 24-hour window and last channel of a conversation; messages' template, fallback
and route; bots' and campaigns' WhatsApp templates; the synced WhatsApp templates

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import parley.store.tables

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("whatsapp_last_inbound_at", parley.store.tables.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_channel", sa.String(length=8), nullable=True))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("template", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("fallback", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("fallback_at", parley.store.tables.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("route", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_messages_fallback_at"), ["fallback_at"], unique=False)
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("detail", sa.Text(), nullable=True))
    with op.batch_alter_table("bots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("whatsapp_template", sa.JSON(), nullable=True))
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=8), server_default="sms", nullable=False))
        batch_op.add_column(sa.Column("whatsapp_template", sa.JSON(), nullable=True))
    op.create_table(
        "whatsapp_templates",
        sa.Column("waba_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("meta_id", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("synced_at", parley.store.tables.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("waba_id", "name", "language", name=op.f("pk_whatsapp_templates")),
    )


def downgrade() -> None:
    op.drop_table("whatsapp_templates")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("whatsapp_template")
        batch_op.drop_column("channel")
    with op.batch_alter_table("bots", schema=None) as batch_op:
        batch_op.drop_column("whatsapp_template")
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.drop_column("detail")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_fallback_at"))
        batch_op.drop_column("route")
        batch_op.drop_column("fallback_at")
        batch_op.drop_column("fallback")
        batch_op.drop_column("template")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("last_channel")
        batch_op.drop_column("whatsapp_last_inbound_at")
