"""The route claim's index holds its whole order, and the leased webhook deliveries have an index of their own.

A route claim orders by (due_at, message_id); with only (kind, due_at) indexed, PostgreSQL sorts what the index
finds: each due time's jobs (an incremental sort) when its statistics saw a few route jobs, every due job of a burst
when they saw few among send jobs, on every claim (as migration 0018 found for webhook deliveries). With the order
in the index the claim walks it and stops at its limit.

``store.webhooks.next_due`` wants the earliest end of a lease among pending deliveries: with no index on
``lease_until`` that read every pending one. Only claimed deliveries have a lease (an outcome, a release, a resend
clear it), so a partial index of those stays as small as what is in flight.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

LEASED = sa.text("lease_until IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_jobs_kind_due", table_name="jobs")
    op.create_index("ix_jobs_kind_due", "jobs", ["kind", "due_at", "message_id"])
    op.create_index(
        "ix_webhook_deliveries_leased",
        "webhook_deliveries",
        ["lease_until"],
        postgresql_where=LEASED,
        sqlite_where=LEASED,
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_leased", table_name="webhook_deliveries")
    op.drop_index("ix_jobs_kind_due", table_name="jobs")
    op.create_index("ix_jobs_kind_due", "jobs", ["kind", "due_at"])
