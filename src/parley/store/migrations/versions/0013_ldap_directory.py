"""The user directory from LDAP: users' mobile, directory DN and disabled time; sync runs; leases

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import parley.store.tables

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mobile", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("directory_dn", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("disabled_at", parley.store.tables.UtcDateTime(), nullable=True))
    op.create_table(
        "directory_syncs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", parley.store.tables.UtcDateTime(), nullable=False),
        sa.Column("finished_at", parley.store.tables.UtcDateTime(), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("entries", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_syncs")),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("expires_at", parley.store.tables.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("directory_syncs")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
        batch_op.drop_column("directory_dn")
        batch_op.drop_column("mobile")
