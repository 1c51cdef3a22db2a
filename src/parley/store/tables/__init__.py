"""The schema: every table, as SQLAlchemy Core ``Table`` objects on one ``metadata``. Alembic migrations under
``store/migrations/`` create exactly these (a test checks it). Import tables from here; where each part lives:

- ``base``: the shared ``metadata`` and its naming convention, the ``UtcDateTime`` type, ``Record``;
- ``directory``: settings, users, services and their members, numbers, bots, directory syncs, leases;
- ``carriers``: transports and their live states, WhatsApp templates, sender ID rules, prices;
- ``traffic``: messages, their events, jobs, parts and receipts, inbound parts, usage;
- ``inbox``: conversations, participants, conversation events, blocks, opt-outs, timers, calls, reply links;
- ``outreach``: campaigns, their recipients and problems, lists, the blocklist;
- ``access``: web console sessions, sign-in failures, API keys;
- ``attachments``: media, their chunks, message attachments;
- ``webhooks``: webhook endpoints, deliveries and attempts;
- ``smpp_server``: the SMPP server's accounts, submits and inbound queue.
"""

from __future__ import annotations

from parley.store.tables.access import api_keys, sign_in_failures, web_sessions
from parley.store.tables.attachments import media, media_chunks, message_media
from parley.store.tables.base import Record, UtcDateTime, metadata
from parley.store.tables.carriers import prices, sender_id_rules, transport_states, transports, whatsapp_templates
from parley.store.tables.directory import (
    bots,
    directory_syncs,
    leases,
    numbers,
    service_members,
    services,
    settings,
    users,
)
from parley.store.tables.inbox import (
    blocks,
    calls,
    conversation_events,
    conversations,
    optouts,
    participants,
    reply_link_posts,
    reply_links,
    timers,
)
from parley.store.tables.outreach import (
    blocklist,
    campaign_problems,
    campaign_recipients,
    campaigns,
    list_entries,
    lists,
)
from parley.store.tables.smpp_server import smpp_accounts, smpp_inbound, smpp_submits
from parley.store.tables.traffic import inbound_parts, jobs, message_events, message_parts, messages, receipts, usage
from parley.store.tables.webhooks import webhook_attempts, webhook_deliveries, webhook_endpoints

__all__ = [
    "Record",
    "UtcDateTime",
    "api_keys",
    "blocklist",
    "blocks",
    "bots",
    "calls",
    "campaign_problems",
    "campaign_recipients",
    "campaigns",
    "conversation_events",
    "conversations",
    "directory_syncs",
    "inbound_parts",
    "jobs",
    "leases",
    "list_entries",
    "lists",
    "media",
    "media_chunks",
    "message_events",
    "message_media",
    "message_parts",
    "messages",
    "metadata",
    "numbers",
    "optouts",
    "participants",
    "prices",
    "receipts",
    "reply_link_posts",
    "reply_links",
    "sender_id_rules",
    "service_members",
    "services",
    "settings",
    "sign_in_failures",
    "smpp_accounts",
    "smpp_inbound",
    "smpp_submits",
    "timers",
    "transport_states",
    "transports",
    "usage",
    "users",
    "web_sessions",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
    "whatsapp_templates",
]
