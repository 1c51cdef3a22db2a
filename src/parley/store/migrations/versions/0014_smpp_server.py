"""SMPP server for applications: accounts, the ids given to ESMEs (and waiting parts), inbound to deliver

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 16:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import parley.store.tables

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smpp_accounts",
        sa.Column("system_id", sa.String(length=15), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("throughput", sa.Integer(), nullable=False),
        sa.Column("updated_at", parley.store.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_smpp_accounts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("system_id", name=op.f("pk_smpp_accounts")),
    )
    with op.batch_alter_table("smpp_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_smpp_accounts_user_id"), ["user_id"], unique=False)
    op.create_table(
        "smpp_submits",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("system_id", sa.String(length=15), nullable=False),
        sa.Column("message_id", sa.String(length=24), nullable=True),
        sa.Column("concat_key", sa.String(length=200), nullable=True),
        sa.Column("part", sa.Integer(), server_default="1", nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("sender", sa.String(length=32), nullable=True),
        sa.Column("recipient", sa.String(length=32), nullable=True),
        sa.Column("receipt_pending", sa.Boolean(), nullable=False),
        sa.Column("lease_until", parley.store.tables.UtcDateTime(), nullable=True),
        sa.Column("created_at", parley.store.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_smpp_submits_message_id_messages"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smpp_submits")),
    )
    with op.batch_alter_table("smpp_submits", schema=None) as batch_op:
        batch_op.create_index("ix_smpp_submits_concat", ["system_id", "concat_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_smpp_submits_message_id"), ["message_id"], unique=False)
        batch_op.create_index("ix_smpp_submits_receipts", ["receipt_pending", "system_id"], unique=False)
    op.create_table(
        "smpp_inbound",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("system_id", sa.String(length=15), nullable=False),
        sa.Column("message_id", sa.String(length=24), nullable=False),
        sa.Column("lease_until", parley.store.tables.UtcDateTime(), nullable=True),
        sa.Column("created_at", parley.store.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_smpp_inbound_message_id_messages"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["smpp_accounts.system_id"],
            name=op.f("fk_smpp_inbound_system_id_smpp_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smpp_inbound")),
    )
    with op.batch_alter_table("smpp_inbound", schema=None) as batch_op:
        batch_op.create_index("ix_smpp_inbound_account", ["system_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("smpp_inbound")
    op.drop_table("smpp_submits")
    op.drop_table("smpp_accounts")
