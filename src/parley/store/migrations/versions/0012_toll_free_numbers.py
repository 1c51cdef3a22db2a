"""Toll-free numbers: a number's verification state and what sending from it does until it is verified

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 16:25:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("numbers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("toll_free", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("numbers", schema=None) as batch_op:
        batch_op.drop_column("toll_free")
