"""What routing and conversation use cases both need to read: settings, candidates, state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.actions import ConversationState
from parley.core.licenses import License
from parley.core.membership import Candidate, Presence, Route
from parley.core.number_config import NumberConfig, config_from_doc, effective
from parley.core.numbers import customer_ids
from parley.core.whatsapp_rules import window_expires_at
from parley.services.directory import Config
from parley.services.errors import ServiceError
from parley.services.whatsapp_sends import WindowClosedError
from parley.store import participants as participant_store
from parley.store.tables import Record, conversation_events, numbers, participants, service_members, services, users


async def find_number(conn: AsyncConnection, number: str) -> Record | None:
    return (await conn.execute(sa.select(numbers).where(numbers.c.number == number))).first()


async def owning_service(conn: AsyncConnection, number: Record | None, company_number: str) -> Record | None:
    """The service a company number belongs to: its linked service, else the service whose SMS number it is."""
    if number is not None and number.linked_service_id is not None:
        return (await conn.execute(sa.select(services).where(services.c.id == number.linked_service_id))).first()
    query = sa.select(services).where(services.c.sms_number == company_number).order_by(services.c.id).limit(1)
    return (await conn.execute(query)).first()


async def service_by_name(conn: AsyncConnection, name: str) -> Record | None:
    return (await conn.execute(sa.select(services).where(services.c.name == name))).first()


async def settings_for(
    conn: AsyncConnection, number: Record | None, service: Record | None
) -> tuple[NumberConfig, bool]:
    """The number's conversation settings in force, and whether they are only its service's."""
    own = config_from_doc(number.config) if number is not None else None
    inherited = config_from_doc(service.config) if service is not None else None
    return effective(own, inherited)


def _candidates(rows: Any) -> list[Candidate]:
    return [Candidate(r.id, License.parse(r.license)) for r in rows]


async def static_members(conn: AsyncConnection, service_id: int | None) -> list[Candidate]:
    if service_id is None:
        return []
    query = (
        sa.select(users.c.id, users.c.license)
        .join(service_members, service_members.c.user_id == users.c.id)
        .where(service_members.c.service_id == service_id, service_members.c.kind == "static")
        .order_by(users.c.extension)
    )
    return _candidates((await conn.execute(query)).all())


async def is_service_member(conn: AsyncConnection, service_id: int, user_id: int) -> bool:
    query = sa.select(service_members.c.kind).where(
        service_members.c.service_id == service_id, service_members.c.user_id == user_id
    )
    return (await conn.execute(query)).first() is not None


async def office_users(conn: AsyncConnection, company_number: str) -> list[Candidate]:
    query = sa.select(users.c.id, users.c.license).where(
        users.c.office_number == company_number, users.c.disabled_at.is_(None)
    )
    return _candidates((await conn.execute(query.order_by(users.c.extension))).all())


async def route_users(conn: AsyncConnection, route: Route | None) -> list[Candidate]:
    if route is None or route.kind == "bot":
        return []
    if route.kind == "agent":
        query = sa.select(users.c.id, users.c.license).where(users.c.extension == route.target)
        return _candidates((await conn.execute(query)).all())
    service = await service_by_name(conn, route.target)
    return await static_members(conn, service.id if service is not None else None)


async def presence(conn: AsyncConnection, conversation_id: str) -> dict[str, Presence]:
    rows = (
        await conn.execute(
            sa.select(participants.c.member, participants.c.active, participants.c.removed_by_agent).where(
                participants.c.conversation_id == conversation_id
            )
        )
    ).all()
    return {r.member: Presence(r.active, r.removed_by_agent) for r in rows}


async def state_of(conn: AsyncConnection, conversation: Record) -> ConversationState:
    """What timed actions look at: last inbound, last reply, last read, last activity, actions fired."""
    last_read = await conn.scalar(
        sa.select(sa.func.max(participants.c.last_read_at)).where(participants.c.conversation_id == conversation.id)
    )
    fired = (
        await conn.execute(
            sa.select(conversation_events.c.detail).where(
                conversation_events.c.conversation_id == conversation.id, conversation_events.c.kind == "action"
            )
        )
    ).scalars()
    return ConversationState(
        last_inbound_at=conversation.last_inbound_at,
        last_reply_at=conversation.last_reply_at,
        last_read_at=_aware(last_read),
        last_activity_at=conversation.last_message_at,
        fired=frozenset(str(d.get("action")) for d in fired if isinstance(d, dict)),
    )


def _aware(value: object) -> datetime | None:
    """An aggregate (MAX) of a UTC column comes back raw: naive, or a string on SQLite."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def event_row(conversation_id: str, kind: str, actor: str, now: datetime, **detail: Any) -> dict[str, Any]:
    return {"conversation_id": conversation_id, "kind": kind, "actor": actor, "detail": detail, "at": now}


async def active_user_ids(conn: AsyncConnection, conversation_id: str) -> frozenset[int]:
    rows = await participant_store.members(conn, conversation_id)
    return frozenset(r.user_id for r in rows if r.user_id is not None and r.active)


def view(conversation: Record, members: list[Record], unread: int) -> dict[str, Any]:
    """A conversation as the API and the console show it."""
    number, external_id = customer_ids(conversation.external_number)
    return {
        "id": conversation.id,
        "title": conversation.title,
        "company_number": conversation.company_number,
        "external_number": number,
        "external_id": external_id,  # a WhatsApp customer without a phone number (then ``external_number`` is None)
        "service": conversation.service,
        "assignee": conversation.assignee,
        "participants": [m.extension if m.user_id is not None else m.bot for m in members if m.active],
        "former_participants": [m.extension if m.user_id is not None else m.bot for m in members if not m.active],
        "unrouted": conversation.unrouted,
        "unread": unread,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "last_message_at": conversation.last_message_at,
        "last_channel": conversation.last_channel,
        "whatsapp_window_expires_at": window_expires_at(conversation.whatsapp_last_inbound_at),
    }


def reply_channel(conversation: Record, config: Config, asked: str | None, template: bool) -> str:
    """The channel a reply goes on: the one asked for; else WhatsApp for a template, for a customer known only on
    WhatsApp (no phone number) or who last wrote on WhatsApp to a number still on it; else SMS."""
    on_whatsapp = conversation.company_number in config.whatsapp
    no_number = not str(conversation.external_number).startswith("+")
    if asked is not None:
        if asked not in ("sms", "whatsapp"):
            raise ServiceError(422, 'must be "sms" or "whatsapp"', "channel")
        if asked == "sms" and (template or no_number):
            why = "a template goes on WhatsApp" if template else "this customer has no phone number, only WhatsApp"
            raise ServiceError(422, f"cannot be sms: {why}", "channel")
        if asked == "whatsapp" and not on_whatsapp:
            raise ServiceError(422, f"{conversation.company_number} is not on WhatsApp", "channel")
        return asked
    if template or no_number or (conversation.last_channel == "whatsapp" and on_whatsapp):
        return "whatsapp"
    return "sms"


def window_closed(exc: WindowClosedError) -> ServiceError:
    """The 409 of a free-form WhatsApp message outside the customer-service window, with ``window_closed_at``."""
    error = ServiceError(409, exc.reason, "text")
    error.extra = {"window": "whatsapp_customer_service", "window_closed_at": exc.closed_at}
    return error
