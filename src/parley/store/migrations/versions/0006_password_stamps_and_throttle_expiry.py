"""password stamps on console sessions; sign-in failure counters that expire

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Sessions opened before this revision carry no stamp: they end, and their users sign in again.
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_stamp", sa.String(length=16), server_default="", nullable=False))
    # The counters' keys changed shape (hashed, per pair / address / subject): the old ones mean nothing now.
    op.execute("DELETE FROM sign_in_failures")
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_failures_last_at"), ["last_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_failures_last_at"))
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_column("password_stamp")
