"""Calls in conversations (seed 002): a call links into the conversation with the same customer and service, or
opens it; who may record one is decided by `conversation_access`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from parley.core.numbers import InvalidNumber, parse_e164
from parley.services import conversation_access as access
from parley.services import conversation_support as support
from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.store import conversations as store
from parley.store.db import Database
from parley.store.ids import new_id
from parley.store.tables import calls


async def record_call(
    db: Database, cache: DirectoryCache, now: datetime, user: User, call: dict[str, Any]
) -> dict[str, Any]:
    """Seed 002: a call links into the conversation with the same customer and service (or opens it)."""
    config = await cache.config()
    try:
        customer = parse_e164(call["customer"], config.country)
    except InvalidNumber as exc:
        raise ServiceError(422, exc.reason, "customer") from None
    async with db.write() as conn:
        service = await support.service_by_name(conn, call["service"]) if call.get("service") else None
        if call.get("service") and service is None:
            raise ServiceError(422, f'No service named "{call["service"]}"', "service")
        company = call.get("company_number") or (service.sms_number if service is not None else None)
        if service is None and company:
            service = await support.owning_service(conn, await support.find_number(conn, company), company)
        key = store.thread_key(company, customer, service.id if service is not None else None) if company else None
        conversation = await store.find_by_thread(conn, key) if key else None
        agent = await cache.user(call["agent"]) if call.get("agent") else user
        if agent is None:
            raise ServiceError(422, f'No user "{call["agent"]}"', "agent")
        await access.check_may_record_call(
            conn, user, agent=agent, service=service, company_number=company, conversation=conversation
        )
        if key and conversation is None:
            cid = new_id()
            await store.add(
                conn,
                {
                    "id": cid, "thread_key": key, "company_number": company, "external_number": customer,
                    "service_id": service.id if service is not None else None, "title": customer,
                    "assignee_id": None, "unrouted": False, "created_at": now, "updated_at": now,
                },
            )  # fmt: skip
            conversation = await store.find(conn, cid)
        row = {
            "id": new_id(), "conversation_id": conversation.id if conversation is not None else None,
            "customer_number": customer, "company_number": company,
            "service_id": service.id if service is not None else None, "agent_id": agent.id,
            "direction": call["direction"], "started_at": call["started_at"], "ended_at": call.get("ended_at"),
            "created_at": now,
        }  # fmt: skip
        await conn.execute(calls.insert().values(**row))
        if conversation is not None:
            await store.update(conn, conversation.id, updated_at=now)
    return {**row, "service": service.name if service is not None else None}
