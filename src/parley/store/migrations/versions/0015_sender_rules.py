"""Sender-ID rules by destination country; messages counted as delivered without a receipt

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sender_id_rules",
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("registered", sa.JSON(), nullable=False),
        sa.Column("otherwise", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("country", name=op.f("pk_sender_id_rules")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery_assumed", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("delivery_assumed")
    op.drop_table("sender_id_rules")
