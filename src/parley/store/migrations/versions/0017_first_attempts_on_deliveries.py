"""A webhook delivery keeps its first attempt when that one succeeded, instead of a webhook_attempts row (issue 15)

Revision ID: 0017
Revises: 0016
Create Date: 2027-01-10 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import parley.store.tables

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows written before keep their attempts in webhook_attempts: the new columns stay null for them.
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_at", parley.store.tables.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("first_status", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("first_answer", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("first_duration_ms", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Attempts kept on their delivery become webhook_attempts rows again before the columns go.
    op.execute(
        "INSERT INTO webhook_attempts (delivery_id, at, status, error, answer, duration_ms) "
        "SELECT id, first_at, first_status, NULL, first_answer, first_duration_ms FROM webhook_deliveries "
        "WHERE first_at IS NOT NULL"
    )
    # Not a batch operation on SQLite: that copies the table and drops the old one, and dropping it deletes its
    # attempts (ON DELETE CASCADE with foreign keys on). SQLite drops a column itself since 3.35 (as old as the
    # UPDATE … RETURNING the claims need).
    for column in ("first_duration_ms", "first_answer", "first_status", "first_at"):
        op.drop_column("webhook_deliveries", column)
