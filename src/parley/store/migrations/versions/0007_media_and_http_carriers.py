"""media (files, their chunks, messages' attachments); a number's carrier; messages' channel and error code;
a price's MMS price

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import parley.store.tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mms_price", sa.String(length=32), nullable=True))
    with op.batch_alter_table("numbers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("carrier", sa.String(length=100), nullable=True))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("channel", sa.String(length=8), server_default="sms", nullable=False))
    op.create_table(
        "media",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage", sa.String(length=8), nullable=False),
        sa.Column("created_at", parley.store.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_media_owner_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
    )
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_owner_id"), ["owner_id"], unique=False)
    op.create_table(
        "media_chunks",
        sa.Column("media_id", sa.String(length=24), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_media_chunks_media_id_media"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("media_id", "seq", name=op.f("pk_media_chunks")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Media are compressed already (JPEG, MP4, …): TOAST's pglz would spend CPU on every chunk for nothing.
        op.execute("ALTER TABLE media_chunks ALTER COLUMN data SET STORAGE EXTERNAL")
    op.create_table(
        "message_media",
        sa.Column("message_id", sa.String(length=24), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.String(length=24), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("transport", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("due_at", parley.store.tables.UtcDateTime(), nullable=True),
        sa.Column("lease_until", parley.store.tables.UtcDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_message_media_media_id_media"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_media_message_id_messages"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("message_id", "position", name=op.f("pk_message_media")),
    )
    with op.batch_alter_table("message_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_media_media_id"), ["media_id"], unique=False)
        batch_op.create_index("ix_message_media_pending", ["state", "due_at"], unique=False)


def downgrade() -> None:
    op.drop_table("message_media")
    op.drop_table("media_chunks")
    op.drop_table("media")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("channel")
        batch_op.drop_column("error_code")
    with op.batch_alter_table("numbers", schema=None) as batch_op:
        batch_op.drop_column("carrier")
    with op.batch_alter_table("prices", schema=None) as batch_op:
        batch_op.drop_column("mms_price")
