"""The SMPP server for applications: the accounts ESMEs bind as, the message ids given in submit_sm_resp (with
the parts of long messages waiting to be joined), and inbound messages waiting to go out as deliver_sm."""

from __future__ import annotations

import sqlalchemy as sa

from parley.store.tables.base import UtcDateTime, metadata

# SMPP server for applications (issue 13 §4). An account binds as ``system_id`` and sends as ``user_id``; its
# password is an argon2 hash like a user's. ``throughput``: submit_sm per second before ESME_RTHROTTLED.
smpp_accounts = sa.Table(
    "smpp_accounts",
    metadata,
    sa.Column("system_id", sa.String(15), primary_key=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("throughput", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Every message_id given to an ESME in a submit_sm_resp: a whole message's (``id`` = the message's id) or one
# part's of a long message. A part waits here (``text``, ``concat_key``) until its message is whole and sent;
# ``receipt_pending`` while registered_delivery asked for a receipt not yet answered by a deliver_sm_resp.
smpp_submits = sa.Table(
    "smpp_submits",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column("system_id", sa.String(15), nullable=False),
    sa.Column("message_id", sa.ForeignKey("messages.id", ondelete="CASCADE"), index=True),
    sa.Column("concat_key", sa.String(200)),  # source|destination|reference|total of a part; null when whole
    sa.Column("part", sa.Integer, nullable=False, server_default="1"),
    sa.Column("text", sa.Text),  # a waiting part's user data, octets as Latin-1 characters (cleared once sent)
    sa.Column("sender", sa.String(32)),  # a waiting part's checked source (E.164 or alphanumeric ID)
    sa.Column("recipient", sa.String(32)),  # a waiting part's destination (E.164)
    sa.Column("receipt_pending", sa.Boolean, nullable=False),
    sa.Column("lease_until", UtcDateTime),  # a receipt being delivered by some bind
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_smpp_submits_concat", "system_id", "concat_key"),
    sa.Index("ix_smpp_submits_receipts", "receipt_pending", "system_id"),
)

# Inbound messages to an account's user's numbers, waiting to be delivered to a bound receiver as deliver_sm.
# Written in the inbound router's transaction; a row goes once a receiver answered deliver_sm_resp OK.
smpp_inbound = sa.Table(
    "smpp_inbound",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("system_id", sa.ForeignKey("smpp_accounts.system_id", ondelete="CASCADE"), nullable=False),
    sa.Column("message_id", sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    sa.Column("lease_until", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_smpp_inbound_account", "system_id", "id"),
)
