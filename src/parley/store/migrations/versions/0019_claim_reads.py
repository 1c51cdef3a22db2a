"""The route claim's index holds its whole order, so a claim reads only the jobs it takes.

A route claim orders by (due_at, message_id); with only (kind, due_at) indexed, PostgreSQL sorts what the index
finds: each due time's jobs (an incremental sort) when its statistics saw a few route jobs, every due job of a burst
when they saw few among send jobs, on every claim (as migration 0018 found for webhook deliveries). With the order
in the index the claim walks it and stops at its limit.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_jobs_kind_due", table_name="jobs")
    op.create_index("ix_jobs_kind_due", "jobs", ["kind", "due_at", "message_id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_kind_due", table_name="jobs")
    op.create_index("ix_jobs_kind_due", "jobs", ["kind", "due_at"])
