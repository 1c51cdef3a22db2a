"""carrier ids that repeat, job faults

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:00:00.000000

- message_parts: keyed by (message_id, part), no longer by (transport, carrier_id), which SMSCs reuse; each
  part has the time it was recorded, so receipts are matched within a window, newest part first.
- messages: the inbound carrier-id index is no longer unique (de-duplication within a time window).
- jobs.faults: tries that ended without an outcome (or with an unexpected error); a job with too many is parked.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import parley.store.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("faults", sa.Integer(), server_default="0", nullable=False))

    with op.batch_alter_table("message_parts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recorded_at", parley.store.tables.UtcDateTime(), nullable=True))
    # Parts recorded before: the time their message last changed is the best we know.
    op.execute(
        "UPDATE message_parts SET recorded_at = "
        "(SELECT messages.updated_at FROM messages WHERE messages.id = message_parts.message_id)"
    )
    # A message sent twice (at-least-once) had a row per copy; one part per (message, part) stays.
    op.execute(
        "DELETE FROM message_parts WHERE EXISTS (SELECT 1 FROM message_parts AS other "
        "WHERE other.message_id = message_parts.message_id AND other.part = message_parts.part "
        "AND (other.transport > message_parts.transport OR (other.transport = message_parts.transport "
        "AND other.carrier_id > message_parts.carrier_id)))"
    )
    with op.batch_alter_table("message_parts", schema=None) as batch_op:
        batch_op.alter_column("recorded_at", existing_type=parley.store.tables.UtcDateTime(), nullable=False)
        batch_op.drop_index("ix_message_parts_message_id")
        batch_op.drop_constraint("pk_message_parts", type_="primary")
        batch_op.create_primary_key("pk_message_parts", ["message_id", "part"])
        batch_op.create_index("ix_message_parts_carrier", ["transport", "carrier_id", "recorded_at"], unique=False)

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("uq_messages_inbound_carrier_id")
        batch_op.create_index("ix_messages_inbound_carrier_id", ["transport", "carrier_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_inbound_carrier_id")
    # Inbound messages a reused carrier id brought in twice cannot all stay under a unique index: the newest keeps it.
    op.execute(
        "UPDATE messages SET carrier_id = NULL WHERE carrier_id IS NOT NULL AND EXISTS (SELECT 1 FROM messages "
        "AS other WHERE other.transport = messages.transport AND other.carrier_id = messages.carrier_id "
        "AND other.id > messages.id)"
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("uq_messages_inbound_carrier_id", ["transport", "carrier_id"], unique=True)

    op.execute(
        "DELETE FROM message_parts WHERE EXISTS (SELECT 1 FROM message_parts AS other "
        "WHERE other.transport = message_parts.transport AND other.carrier_id = message_parts.carrier_id "
        "AND other.recorded_at > message_parts.recorded_at)"
    )
    with op.batch_alter_table("message_parts", schema=None) as batch_op:
        batch_op.drop_index("ix_message_parts_carrier")
        batch_op.drop_constraint("pk_message_parts", type_="primary")
        batch_op.create_primary_key("pk_message_parts", ["transport", "carrier_id"])
        batch_op.create_index("ix_message_parts_message_id", ["message_id"], unique=False)
        batch_op.drop_column("recorded_at")

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("faults")
