"""Reply links: short links in SMS that open a web chat, and the counters that limit posting through them

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 16:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import parley.store.tables

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reply_links",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("company_number", sa.String(length=32), nullable=False),
        sa.Column("customer", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=24), nullable=True),
        sa.Column("created_at", parley.store.tables.UtcDateTime(), nullable=False),
        sa.Column("expires_at", parley.store.tables.UtcDateTime(), nullable=False),
        sa.Column("present_until", parley.store.tables.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_reply_links_token_hash")),
    )
    op.create_index("ix_reply_links_thread", "reply_links", ["company_number", "customer"], unique=False)
    op.create_table(
        "reply_link_posts",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("window_start", parley.store.tables.UtcDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_reply_link_posts")),
    )


def downgrade() -> None:
    op.drop_table("reply_link_posts")
    op.drop_index("ix_reply_links_thread", table_name="reply_links")
    op.drop_table("reply_links")
